"""A DAG as the scheduler and the web server see it: plain frozen data, no user code.

These classes are what ``deserialize_dag`` returns. They carry every setting the
scheduler and the UI need, with times as aware UTC datetimes and durations as
seconds; they never hold an operator, a callable or anything from a DAG file.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sluice.core.errors import TaskNotFound
from sluice.core.suggestions import unknown_id_message
from sluice.sdk.params import Param, ParamsDict
from sluice.sdk.readiness import TaskNode
from sluice.sdk.schedules import DagRunInfo, DataInterval, TimeRestriction, Timetable
from sluice.sdk.trigger_rules import TriggerRule

TASK = "task"
GROUP = "group"


@dataclass(frozen=True)
class SerializedTask:
    """One task: its settings, its place in the graph, and what the UI shows of it."""

    task_id: str
    operator: str
    """The operator class name, or the TaskFlow name (``@task``, ``@task.bash``...)."""
    operator_module: str
    label: str
    group_id: str | None
    upstream_task_ids: frozenset[str]
    downstream_task_ids: frozenset[str]
    trigger_rule: TriggerRule
    owner: str
    retries: int
    retry_delay: float
    """Seconds."""
    retry_exponential_backoff: bool
    max_retry_delay: float | None
    """Seconds."""
    execution_timeout: float | None
    """Seconds."""
    depends_on_past: bool
    wait_for_downstream: bool
    pool: str
    pool_slots: int
    priority_weight: int
    weight_rule: str
    queue: str
    max_active_tis_per_dag: int | None
    email: tuple[str, ...]
    email_on_failure: bool
    email_on_retry: bool
    do_xcom_push: bool
    multiple_outputs: bool
    start_date: datetime | None
    end_date: datetime | None
    doc_md: str | None
    params: dict[str, Any]
    """Param name to ``Param.dump()``."""
    template_fields: tuple[str, ...]
    template_ext: tuple[str, ...]
    template_fields_renderers: dict[str, str]
    template_values: dict[str, Any]
    """Template field to its unrendered value, as ``json_safe`` writes it."""
    operator_args: dict[str, Any]
    """The operator's own arguments that are not template fields (``conn_id``,
    ``autocommit``, a sensor's ``mode``...), as ``json_safe`` writes them; secret-named
    values masked."""
    ui_color: str
    ui_fgcolor: str
    is_mapped: bool
    mapping: dict[str, Any] | None
    """For a mapped task: ``expand``, ``expand_kwargs`` and ``mapped_into``."""
    has_on_execute_callback: bool
    has_on_failure_callback: bool
    has_on_success_callback: bool
    has_on_retry_callback: bool
    python_callable: str | None
    """``module.qualname`` of the function a Python or TaskFlow task calls."""

    @property
    def max_tries(self) -> int:
        """As Airflow's ``max_tries``: the number of retries; tries in all are one more."""
        return self.retries

    def params_dict(self) -> ParamsDict:
        """The task's params as Param objects."""
        return ParamsDict({name: Param.load(dump) for name, dump in self.params.items()})


@dataclass(frozen=True)
class SerializedTaskGroup:
    """A TaskGroup (the root one has ``group_id`` None); children sorted by id."""

    group_id: str | None
    label: str | None
    tooltip: str
    ui_color: str
    prefix_group_id: bool
    children: tuple[tuple[str, str | SerializedTaskGroup], ...]
    """``("task", task_id)`` or ``("group", SerializedTaskGroup)`` pairs."""

    def iter_groups(self) -> Iterator[SerializedTaskGroup]:
        """Every subgroup, depth first (not this group itself)."""
        for _, child in self.children:
            if isinstance(child, SerializedTaskGroup):
                yield child
                yield from child.iter_groups()

    def iter_task_ids(self) -> Iterator[str]:
        """The ids of every task in this group and its subgroups."""
        for _, child in self.children:
            if isinstance(child, SerializedTaskGroup):
                yield from child.iter_task_ids()
            else:
                yield child


@dataclass(frozen=True)
class SerializedDag:
    """A DAG's structure and settings, rebuilt from its stored JSON."""

    dag_id: str
    dag_display_name: str
    fileloc: str
    description: str | None
    doc_md: str | None
    schedule_summary: str
    timetable: Timetable
    timetable_description: str
    start_date: datetime | None
    end_date: datetime | None
    timezone: str
    catchup: bool
    catchup_given: bool
    """Whether the DAG file set catchup; if not, a configured default may apply."""
    max_active_runs: int
    max_active_tasks: int
    dagrun_timeout: float | None
    """Seconds."""
    tags: tuple[str, ...]
    owner: str
    owner_links: dict[str, str]
    params: dict[str, Any]
    """Param name to ``Param.dump()``."""
    default_args: dict[str, Any]
    template_searchpath: tuple[str, ...]
    render_template_as_native_obj: bool
    is_paused_upon_creation: bool | None
    has_on_success_callback: bool
    has_on_failure_callback: bool
    tasks: dict[str, SerializedTask]
    """By task id, in topological order (ties broken by task id)."""
    task_group: SerializedTaskGroup

    @property
    def task_ids(self) -> list[str]:
        """The task ids, in topological order."""
        return list(self.tasks)

    @property
    def roots(self) -> list[SerializedTask]:
        """Tasks with no upstream."""
        return [t for t in self.tasks.values() if not t.upstream_task_ids]

    @property
    def leaves(self) -> list[SerializedTask]:
        """Tasks with no downstream: their states make the run's state."""
        return [t for t in self.tasks.values() if not t.downstream_task_ids]

    def topological_order(self) -> list[SerializedTask]:
        """Tasks ordered so that each comes after its upstream tasks."""
        return list(self.tasks.values())

    def has_task(self, task_id: str) -> bool:
        """Whether a task with this id exists."""
        return task_id in self.tasks

    def get_task(self, task_id: str) -> SerializedTask:
        """The task with this id; the error suggests close ids."""
        try:
            return self.tasks[task_id]
        except KeyError:
            raise TaskNotFound(
                unknown_id_message("Task", task_id, self.tasks, f" in DAG '{self.dag_id}'")
            ) from None

    def task_nodes(self) -> dict[str, TaskNode]:
        """The structure ``sluice.sdk.readiness.decide`` works on (built once: the
        scheduler asks on every decision; the dict is shared, not to be changed)."""
        return self._task_nodes

    @functools.cached_property
    def _task_nodes(self) -> dict[str, TaskNode]:
        return {
            tid: TaskNode(tid, t.upstream_task_ids, t.trigger_rule) for tid, t in self.tasks.items()
        }

    def get_flat_relative_ids(self, task_id: str, *, upstream: bool = False) -> set[str]:
        """Every task id reachable downstream (or upstream) of ``task_id``."""
        seen: set[str] = set()
        todo = [task_id]
        while todo:
            task = self.get_task(todo.pop())
            for tid in task.upstream_task_ids if upstream else task.downstream_task_ids:
                if tid not in seen:
                    seen.add(tid)
                    todo.append(tid)
        return seen

    def priority_weight_total(self, task_id: str) -> int:
        """The task's effective priority, per its weight_rule, as Airflow computes it."""
        task = self.get_task(task_id)
        if task.weight_rule == "absolute":
            return task.priority_weight
        relatives = self.get_flat_relative_ids(task_id, upstream=task.weight_rule == "upstream")
        return task.priority_weight + sum(self.tasks[t].priority_weight for t in relatives)

    def params_dict(self) -> ParamsDict:
        """The DAG's params as Param objects, ready to resolve a run's conf."""
        return ParamsDict({name: Param.load(dump) for name, dump in self.params.items()})

    def time_restriction(self) -> TimeRestriction:
        """The bounds of automated runs, as Airflow's ``DAG._time_restriction`` sets them.

        Earliest: the earliest start_date of the DAG and its tasks. Latest: the DAG's
        end_date, unless every task has an end_date, when the latest of all of them wins.
        """
        starts = [t.start_date for t in self.tasks.values() if t.start_date is not None]
        if self.start_date is not None:
            starts.append(self.start_date)
        latest = self.end_date
        ends = [t.end_date for t in self.tasks.values() if t.end_date is not None]
        if ends and len(ends) == len(self.tasks):
            if self.end_date is not None:
                ends.append(self.end_date)
            latest = max(ends)
        return TimeRestriction(min(starts) if starts else None, latest, self.catchup)

    def next_dagrun_info(
        self, last_automated_data_interval: DataInterval | None, now: datetime | None = None
    ) -> DagRunInfo | None:
        """The run the timetable makes after the last scheduled or backfill run's interval.

        None when the DAG has no schedule or no run is left (past end_date, ``@once`` done).
        ``now`` (default: the clock) is what catchup=False counts from. Raises ScheduleError
        when the next date is out of a datetime's range.
        """
        if not self.timetable.can_be_scheduled:
            return None
        return self.timetable.next_dagrun_info(
            last_automated_data_interval=last_automated_data_interval,
            restriction=self.time_restriction(),
            now=now,
        )

    def get_group(self, group_id: str) -> SerializedTaskGroup:
        """The TaskGroup with this id; the error suggests close ids."""
        groups = {g.group_id: g for g in self.task_group.iter_groups() if g.group_id}
        try:
            return groups[group_id]
        except KeyError:
            raise TaskNotFound(
                unknown_id_message("TaskGroup", group_id, groups, f" in DAG '{self.dag_id}'")
            ) from None
