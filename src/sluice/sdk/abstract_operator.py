"""What plain and mapped tasks share: identity, place in the DAG, dependencies, default_args."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sluice.core.errors import DagDefinitionError
from sluice.sdk import definition_context
from sluice.sdk.dependencies import DependencyMixin, as_list
from sluice.sdk.ids import validate_key
from sluice.sdk.trigger_rules import TriggerRule

if TYPE_CHECKING:
    from sluice.sdk.dag import DAG
    from sluice.sdk.taskgroup import TaskGroup
    from sluice.sdk.xcom_arg import XComArg

Context = dict[str, Any]
Callback = Callable[[Context], Any]


class AbstractOperator(DependencyMixin):
    """What plain and mapped tasks share: identity, place in the DAG, dependencies."""

    task_id: str
    dag: DAG | None
    task_group: TaskGroup | None
    trigger_rule: TriggerRule
    upstream_task_ids: set[str]
    downstream_task_ids: set[str]
    is_mapped: ClassVar[bool] = False

    @property
    def max_tries(self) -> int:
        """As Airflow's ``max_tries``: the retries; tries in all are ``max_tries + 1``."""
        return int(getattr(self, "retries", 0) or 0)

    def _attach(self, task_id: str, dag: DAG | None, task_group: TaskGroup | None) -> None:
        """Give the task its full id and register it with its DAG and group."""
        self.upstream_task_ids = set()
        self.downstream_task_ids = set()
        dag = dag or (task_group.dag if task_group else None) or definition_context.current_dag()
        if task_group is None and dag is not None:
            task_group = definition_context.current_group(dag) or dag.task_group
        where = f"DAG '{dag.dag_id}'" if dag else "a DAG"
        validate_key(task_id, f"task id in {where}")
        self.task_id = task_group.child_id(task_id) if task_group else task_id
        self.task_group = task_group
        self.dag = None
        if dag is not None:
            dag.add_task(self)
            if task_group is not None:
                task_group.add(self)

    @property
    def dag_id(self) -> str | None:
        """The id of the DAG this task is in."""
        return self.dag.dag_id if self.dag else None

    @property
    def label(self) -> str:
        """The id without its TaskGroup prefix."""
        group = self.task_group
        if group is not None and group.group_id and group.prefix_group_id:
            return self.task_id[len(group.group_id) + 1 :]
        return self.task_id

    @property
    def upstream_list(self) -> list[AbstractOperator]:
        """Direct upstream tasks."""
        dag = self._require_dag()
        return [dag.task_dict[t] for t in sorted(self.upstream_task_ids)]

    @property
    def downstream_list(self) -> list[AbstractOperator]:
        """Direct downstream tasks."""
        dag = self._require_dag()
        return [dag.task_dict[t] for t in sorted(self.downstream_task_ids)]

    def get_flat_relative_ids(self, *, upstream: bool = False) -> set[str]:
        """Every task id reachable downstream (or upstream) of this one."""
        dag = self._require_dag()
        seen: set[str] = set()
        todo = list(self.upstream_task_ids if upstream else self.downstream_task_ids)
        while todo:
            tid = todo.pop()
            if tid in seen:
                continue
            seen.add(tid)
            task = dag.task_dict[tid]
            todo.extend(task.upstream_task_ids if upstream else task.downstream_task_ids)
        return seen

    def _require_dag(self) -> DAG:
        if self.dag is None:
            raise DagDefinitionError(f"task '{self.task_id}' is not in a DAG")
        return self.dag

    def set_upstream(self, other: DependencyMixin | Sequence[DependencyMixin]) -> None:
        """Make ``other`` run before this task."""
        for item in as_list(other):
            if isinstance(item, AbstractOperator):
                self._link(item, self)
            else:
                item.set_downstream(self)

    def set_downstream(self, other: DependencyMixin | Sequence[DependencyMixin]) -> None:
        """Make ``other`` run after this task."""
        for item in as_list(other):
            if isinstance(item, AbstractOperator):
                self._link(self, item)
            else:
                item.set_upstream(self)

    @staticmethod
    def _link(up: AbstractOperator, down: AbstractOperator) -> None:
        if up is down:
            raise DagDefinitionError(f"task '{up.task_id}' cannot depend on itself")
        dag = up.dag or down.dag
        if dag is None:
            raise DagDefinitionError(
                f"cannot link '{up.task_id}' and '{down.task_id}': neither is in a DAG"
            )
        for task in (up, down):
            if task.dag is None:
                dag.add_task(task)
            elif task.dag is not dag:
                raise DagDefinitionError(
                    f"tasks '{up.task_id}' and '{down.task_id}' are in different DAGs "
                    f"('{up.dag.dag_id if up.dag else None}' and "
                    f"'{down.dag.dag_id if down.dag else None}')"
                )
        up.downstream_task_ids.add(down.task_id)
        down.upstream_task_ids.add(up.task_id)

    def iter_xcom_dependencies(self) -> Iterator[XComArg]:
        """XComArgs in the arguments, each making its task an upstream of this one."""
        return iter(())

    def __repr__(self) -> str:
        return f"<Task({type(self).__name__}): {getattr(self, 'task_id', '?')}>"


def collect_default_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    """default_args of the DAG, then of each enclosing TaskGroup, then the task's own."""
    dag = kwargs.get("dag")
    group = kwargs.get("task_group")
    dag = dag or (group.dag if group else None) or definition_context.current_dag()
    merged: dict[str, Any] = {}
    if dag is not None:
        merged.update(dag.default_args)
        group = group or definition_context.current_group(dag)
    chain: list[TaskGroup] = []
    while group is not None:
        chain.append(group)
        group = group.parent_group
    for g in reversed(chain):
        merged.update(g.default_args)
    merged.update(kwargs.get("default_args") or {})
    if dag is not None and dag.params:
        merged["params"] = {**dag.params.as_plain(), **merged.get("params", {})}
    return merged


Task = AbstractOperator
"""Anything that is a node of a DAG: a BaseOperator or a mapped task."""
