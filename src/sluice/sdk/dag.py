"""DAG: a set of tasks, their dependencies, a schedule and run settings."""

from __future__ import annotations

import functools
import inspect
import sys
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, ParamSpec

from sluice.core.errors import CycleError, DagDefinitionError, DuplicateTaskIdError, TaskNotFound
from sluice.core.suggestions import unknown_id_message
from sluice.sdk import definition_context
from sluice.sdk.ids import validate_key
from sluice.sdk.operator import AbstractOperator, Callback
from sluice.sdk.params import DagParam, Param, ParamsDict
from sluice.sdk.readiness import TaskNode
from sluice.sdk.schedules import DataInterval, Timetable, timetable_from_schedule
from sluice.sdk.taskgroup import TaskGroup

P = ParamSpec("P")

_NOTSET: Any = object()
_MISSING: Any = object()
_SDK_DIR = str(Path(__file__).resolve().parent)


class DAG:
    """A pipeline: tasks, their dependencies, and when runs happen."""

    def __init__(
        self,
        dag_id: str,
        description: str | None = None,
        schedule: Any = _NOTSET,
        schedule_interval: Any = _NOTSET,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        default_args: dict[str, Any] | None = None,
        catchup: bool | None = None,
        max_active_runs: int = 16,
        max_active_tasks: int = 16,
        dagrun_timeout: timedelta | None = None,
        on_success_callback: Callback | list[Callback] | None = None,
        on_failure_callback: Callback | list[Callback] | None = None,
        template_searchpath: str | Iterable[str] | None = None,
        user_defined_macros: dict[str, Any] | None = None,
        user_defined_filters: dict[str, Callable[..., Any]] | None = None,
        doc_md: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Iterable[str] | None = None,
        owner_links: dict[str, str] | None = None,
        is_paused_upon_creation: bool | None = None,
        render_template_as_native_obj: bool = False,
        dag_display_name: str | None = None,
        fileloc: str | None = None,
    ) -> None:
        validate_key(dag_id, "dag_id")
        self.dag_id = dag_id
        self.description = description
        self.default_args = dict(default_args or {})
        self.fileloc = fileloc or _caller_file()
        if schedule is not _NOTSET and schedule_interval is not _NOTSET:
            raise DagDefinitionError(
                f"DAG '{dag_id}': pass schedule or schedule_interval, not both"
            )
        if schedule_interval is not _NOTSET:
            warnings.warn(
                f"DAG '{dag_id}': schedule_interval is deprecated; use schedule",
                DeprecationWarning,
                stacklevel=_user_stacklevel(),
            )
            schedule = schedule_interval
        self.schedule: Any = None if schedule is _NOTSET else schedule
        self.start_date = self._aware(
            start_date or self.default_args.get("start_date"), "start_date"
        )
        self.end_date = self._aware(end_date or self.default_args.get("end_date"), "end_date")
        if self.start_date and self.end_date:
            if (self.start_date.tzinfo is None) != (self.end_date.tzinfo is None):
                raise DagDefinitionError(
                    f"DAG '{dag_id}': start_date {self.start_date} and end_date {self.end_date} "
                    "mix a naive and a timezone-aware datetime"
                )
            if self.end_date < self.start_date:
                raise DagDefinitionError(
                    f"DAG '{dag_id}': end_date {self.end_date} is before "
                    f"start_date {self.start_date}"
                )
        self.timezone: tzinfo = (
            self.start_date.tzinfo if self.start_date and self.start_date.tzinfo else UTC
        )
        self.catchup_given = catchup is not None
        self.catchup = bool(catchup)
        self.max_active_runs = _positive(dag_id, "max_active_runs", max_active_runs)
        self.max_active_tasks = _positive(dag_id, "max_active_tasks", max_active_tasks)
        if dagrun_timeout is not None and not isinstance(dagrun_timeout, timedelta):
            raise DagDefinitionError(
                f"DAG '{dag_id}': dagrun_timeout must be a timedelta, got {dagrun_timeout!r}"
            )
        self.dagrun_timeout = dagrun_timeout
        self.on_success_callback = on_success_callback
        self.on_failure_callback = on_failure_callback
        if isinstance(template_searchpath, str):
            template_searchpath = [template_searchpath]
        self.template_searchpath = list(template_searchpath or [])
        self.user_defined_macros = dict(user_defined_macros or {})
        self.user_defined_filters = dict(user_defined_filters or {})
        self.doc_md = doc_md
        self.params = ParamsDict(params)
        self.tags = sorted(set(tags or []))
        self.owner_links = dict(owner_links or {})
        self.is_paused_upon_creation = is_paused_upon_creation
        self.render_template_as_native_obj = render_template_as_native_obj
        self.dag_display_name = dag_display_name or dag_id
        self.task_dict: dict[str, AbstractOperator] = {}
        self.task_group = TaskGroup(None, dag=self)
        self.timetable = self.make_timetable(cron_data_intervals=True)
        definition_context.dag_created(self)

    def make_timetable(self, *, cron_data_intervals: bool) -> Timetable:
        """The timetable this DAG's schedule gives, with cron strings read as intervals or not."""
        return timetable_from_schedule(
            self.schedule,
            timezone=self.timezone,
            cron_data_intervals=cron_data_intervals,
            dag_id=self.dag_id,
        )

    def _aware(self, value: Any, name: str) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise DagDefinitionError(
                f"DAG '{self.dag_id}': {name} must be a datetime, got {value!r}"
            )
        return value

    def apply_default_timezone(self, zone: tzinfo) -> None:
        """Read the naive dates of this DAG and its tasks in ``zone``, as Airflow reads them
        in ``[core] default_timezone``; parsing calls this once the DAG file has run.

        A DAG whose start_date is naive or missing also takes ``zone`` as its timezone, the
        one its cron schedule runs in: the caller remakes the timetable.
        """
        if self.start_date is None or self.start_date.tzinfo is None:
            self.timezone = zone
        self.start_date = _in_zone(self.start_date, zone)
        self.end_date = _in_zone(self.end_date, zone)
        for task in self.task_dict.values():
            for name in ("start_date", "end_date"):
                value = getattr(task, name, _MISSING)
                if isinstance(value, datetime):
                    setattr(task, name, _in_zone(value, zone))
            self._bound_task_dates(task)

    @property
    def start_date_utc(self) -> datetime | None:
        """start_date as aware UTC; a naive start_date (before parsing applied the default
        timezone) is read as UTC."""
        return _to_utc(self.start_date)

    @property
    def end_date_utc(self) -> datetime | None:
        """end_date as aware UTC; a naive end_date is read as UTC, as start_date_utc."""
        return _to_utc(self.end_date)

    @property
    def owner(self) -> str:
        """The owners of the tasks, comma-separated, as Airflow shows them."""
        owners = sorted({getattr(t, "owner", "sluice") for t in self.task_dict.values()})
        return ", ".join(owners) or str(self.default_args.get("owner", "sluice"))

    @property
    def tasks(self) -> list[AbstractOperator]:
        """The tasks, in the order they were added."""
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        """The task ids, in the order they were added."""
        return list(self.task_dict)

    @property
    def roots(self) -> list[AbstractOperator]:
        """Tasks with no upstream."""
        return [t for t in self.task_dict.values() if not t.upstream_task_ids]

    @property
    def leaves(self) -> list[AbstractOperator]:
        """Tasks with no downstream: their states make the run's state."""
        return [t for t in self.task_dict.values() if not t.downstream_task_ids]

    def add_task(self, task: AbstractOperator) -> None:
        """Register a task; its id must be new in this DAG."""
        if task.dag is not None and task.dag is not self:
            raise DagDefinitionError(
                f"task '{task.task_id}' is already in DAG '{task.dag.dag_id}'; "
                f"it cannot be added to DAG '{self.dag_id}' too"
            )
        existing = self.task_dict.get(task.task_id)
        if existing is not None and existing is not task:
            raise DuplicateTaskIdError(
                f"DAG '{self.dag_id}': task id '{task.task_id}' has already been added"
            )
        if task.task_id in self.task_group.used_group_ids:
            raise DuplicateTaskIdError(
                f"DAG '{self.dag_id}': task id '{task.task_id}' is already a TaskGroup id"
            )
        self.task_dict[task.task_id] = task
        task.dag = self
        self._bound_task_dates(task)

    def _bound_task_dates(self, task: AbstractOperator) -> None:
        """Airflow's rule: a task starts at the later of its start_date and the DAG's, and
        ends at the earlier of the two end_dates; a task without a date takes the DAG's."""
        start = getattr(task, "start_date", _MISSING)
        if start is not _MISSING:  # a mapped task has dates only if given to partial()
            task.start_date = _bounded(start, self.start_date, max)  # type: ignore[attr-defined]
        end = getattr(task, "end_date", _MISSING)
        if end is not _MISSING:
            task.end_date = _bounded(end, self.end_date, min)  # type: ignore[attr-defined]

    def get_task(self, task_id: str) -> AbstractOperator:
        """The task with this id; the error suggests close ids."""
        try:
            return self.task_dict[task_id]
        except KeyError:
            raise TaskNotFound(
                unknown_id_message("Task", task_id, self.task_dict, f" in DAG '{self.dag_id}'")
            ) from None

    def has_task(self, task_id: str) -> bool:
        """Whether a task with this id exists."""
        return task_id in self.task_dict

    def topological_sort(self) -> list[AbstractOperator]:
        """Tasks ordered so that every task comes after its upstream; raises on a cycle."""
        remaining = {tid: len(t.upstream_task_ids) for tid, t in self.task_dict.items()}
        ready = deque(tid for tid, n in remaining.items() if n == 0)
        order: list[AbstractOperator] = []
        while ready:
            tid = ready.popleft()
            task = self.task_dict[tid]
            order.append(task)
            for down in sorted(task.downstream_task_ids):
                remaining[down] -= 1
                if remaining[down] == 0:
                    ready.append(down)
        if len(order) != len(self.task_dict):
            cycle = find_cycle({t: d.downstream_task_ids for t, d in self.task_dict.items()})
            raise CycleError(f"DAG '{self.dag_id}' has a cycle: {' >> '.join(cycle)}")
        return order

    def task_nodes(self) -> dict[str, TaskNode]:
        """The structure the readiness function works on."""
        return {
            tid: TaskNode(tid, frozenset(t.upstream_task_ids), t.trigger_rule)
            for tid, t in self.task_dict.items()
        }

    def infer_manual_data_interval(self, run_after: datetime) -> DataInterval:
        """The data interval Airflow gives a manual or test run at ``run_after``."""
        return self.timetable.infer_manual_data_interval(run_after=run_after)

    def validate(self) -> None:
        """The checks a DAG file must pass, beyond what construction checked."""
        if self.timetable.can_be_scheduled and self.start_date is None:
            missing = [t.task_id for t in self.tasks if getattr(t, "start_date", None) is None]
            if missing or not self.tasks:
                raise DagDefinitionError(
                    f"DAG '{self.dag_id}' has schedule {self.timetable.summary!r} "
                    "but no start_date; set start_date on the DAG or in default_args"
                )
        if self.timetable.can_be_scheduled:
            # As Airflow: a scheduled run has no conf, so every param must resolve alone.
            for name, param in self.params.as_plain().items():
                if not param.has_value:
                    raise DagDefinitionError(
                        f"DAG '{self.dag_id}' has a schedule, so every param needs a default;"
                        f" param '{name}' has none"
                    )
        try:
            self.params.validate_defaults()
        except Exception as exc:
            raise DagDefinitionError(f"DAG '{self.dag_id}': {exc}") from None
        self.topological_sort()

    def __enter__(self) -> DAG:
        definition_context.push_dag(self)
        return self

    def __exit__(self, *exc: object) -> None:
        definition_context.pop_dag()

    def __repr__(self) -> str:
        return f"<DAG: {self.dag_id}>"


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """One cycle of the graph as a list of nodes that starts and ends with the same node."""
    colour: dict[str, int] = {}  # 1 on the current path, 2 finished
    for start in sorted(graph):
        if colour.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        colour[start] = 1
        path.append(start)
        while stack:
            node, children = stack[-1]
            if not children:
                colour[node] = 2
                path.pop()
                stack.pop()
                continue
            child = children.pop(0)
            if colour.get(child) == 1:
                return [*path[path.index(child) :], child]
            if not colour.get(child):
                colour[child] = 1
                path.append(child)
                stack.append((child, sorted(graph.get(child, ()))))
    return []


def dag(dag_id: str | Callable[..., Any] | None = None, **dag_kwargs: Any) -> Any:
    """``@dag``: calling the decorated function builds the DAG; its arguments become params."""

    def decorate(fn: Callable[P, Any]) -> Callable[P, DAG]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def build(*args: P.args, **kwargs: P.kwargs) -> DAG:
            name_of_dag = dag_id if isinstance(dag_id, str) else fn.__name__
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise DagDefinitionError(f"DAG '{name_of_dag}': {exc}") from None
            bound.apply_defaults()
            params = dict(dag_kwargs.get("params") or {})
            for name, value in bound.arguments.items():
                existing = params.get(name)
                # As Airflow: the argument sets the value; a declared Param keeps its schema.
                if isinstance(existing, Param) and not isinstance(value, Param):
                    value = existing.with_value(value)
                params[name] = value
            kw = {**dag_kwargs, "params": params}
            kw.setdefault("doc_md", inspect.getdoc(fn))
            kw.setdefault("fileloc", inspect.getsourcefile(fn))
            with DAG(name_of_dag, **kw) as new_dag:
                # Inside the function each parameter reads the run's param value.
                fn(**{name: DagParam(name) for name in signature.parameters})  # type: ignore[arg-type,call-arg]
            return new_dag

        return build

    if callable(dag_id):
        return decorate(dag_id)
    return decorate


def _positive(dag_id: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DagDefinitionError(f"DAG '{dag_id}': {name} must be an integer >= 1, got {value!r}")
    return value


def _in_zone(value: datetime | None, zone: tzinfo) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=zone)


def _bounded(
    own: datetime | None,
    dags: datetime | None,
    pick: Callable[[datetime, datetime], datetime],
) -> datetime | None:
    """``pick`` (max or min) of a task's date and its DAG's, either of which may be missing."""
    if own is None or dags is None:
        return dags if own is None else own
    if not isinstance(own, datetime) or (own.tzinfo is None) != (dags.tzinfo is None):
        # Not comparable yet: parsing compares them again once naive dates have a timezone.
        return own
    return pick(own, dags)


def _to_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _user_stacklevel() -> int:
    """The ``stacklevel`` of a warning raised in the SDK that points at the user's code.

    Counted from the function that calls this and then ``warnings.warn``: ``DAG(...)`` in a
    DAG file and a ``@dag`` function called there both warn at the DAG file's line.
    """
    level = 1
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_SDK_DIR):
        frame = frame.f_back
        level += 1
    return level


def _caller_file() -> str:
    """The file of the first frame outside Sluice's SDK: the DAG file being defined."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_SDK_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    return frame.f_code.co_filename if frame is not None else "<unknown>"


__all__ = ["DAG", "Param", "dag", "find_cycle"]
