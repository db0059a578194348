"""TaskGroup: a named box of tasks whose ids get the group's prefix."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from sluice.core.errors import DagDefinitionError
from sluice.sdk import definition_context
from sluice.sdk.dependencies import DependencyMixin, as_list
from sluice.sdk.ids import validate_key

if TYPE_CHECKING:
    from sluice.sdk.dag import DAG
    from sluice.sdk.operator import Task

P = ParamSpec("P")
R = TypeVar("R")


class TaskGroup(DependencyMixin):
    """A group of tasks shown as one box; ``>>`` on it wires its roots or leaves."""

    def __init__(
        self,
        group_id: str | None,
        *,
        prefix_group_id: bool = True,
        parent_group: TaskGroup | None = None,
        dag: DAG | None = None,
        default_args: dict[str, Any] | None = None,
        tooltip: str = "",
        ui_color: str = "CornflowerBlue",
        add_suffix_on_collision: bool = False,
    ) -> None:
        self.prefix_group_id = prefix_group_id
        self.default_args = dict(default_args or {})
        self.tooltip = tooltip
        self.ui_color = ui_color
        self.children: dict[str, Task | TaskGroup] = {}
        self.used_group_ids: set[str] = set()
        if group_id is None:  # the DAG's root group
            if dag is None:
                raise DagDefinitionError("a root TaskGroup needs its DAG")
            self.dag: DAG | None = dag
            self.parent_group: TaskGroup | None = None
            self._group_id: str | None = None
            return
        from_context = definition_context.current_dag()
        owner = dag or (parent_group.dag if parent_group else None) or from_context
        if owner is None:
            raise DagDefinitionError(f"TaskGroup '{group_id}' must be created inside a DAG")
        self.dag = owner
        self.parent_group = (
            parent_group or definition_context.current_group(owner) or owner.task_group
        )
        validate_key(group_id, f"TaskGroup id in DAG '{owner.dag_id}'")
        self._group_id = group_id
        full = self.group_id
        assert full is not None
        if full in owner.task_group.used_group_ids:
            if not add_suffix_on_collision:
                raise DagDefinitionError(f"DAG '{owner.dag_id}': duplicate TaskGroup id '{full}'")
            n = 1
            while f"{group_id}__{n}" in {
                g.rsplit(".", 1)[-1] for g in owner.task_group.used_group_ids
            }:
                n += 1
            self._group_id = f"{group_id}__{n}"
            full = self.group_id
            assert full is not None
        if full in owner.task_dict:
            raise DagDefinitionError(
                f"DAG '{owner.dag_id}': TaskGroup id '{full}' is already a task id"
            )
        owner.task_group.used_group_ids.add(full)
        self.parent_group.add(self)

    @property
    def group_id(self) -> str | None:
        """The full id, with the parents' prefixes."""
        if self._group_id is None:
            return None
        parent = self.parent_group
        if parent is not None and parent.group_id and parent.prefix_group_id:
            return f"{parent.group_id}.{self._group_id}"
        return self._group_id

    @property
    def label(self) -> str | None:
        """The id without the parents' prefixes."""
        return self._group_id

    @property
    def is_root(self) -> bool:
        """Whether this is the DAG's root group."""
        return self._group_id is None

    def child_id(self, label: str) -> str:
        """The full id a child called ``label`` gets."""
        # As in Airflow: a group with prefix_group_id=False gives bare ids, whatever its parents.
        if self.prefix_group_id and self.group_id:
            return f"{self.group_id}.{label}"
        return label

    def add(self, child: Task | TaskGroup) -> None:
        """Put a task or a subgroup in this group."""
        key = child.group_id if isinstance(child, TaskGroup) else child.task_id
        assert key is not None
        if key in self.children:
            raise DagDefinitionError(f"duplicate id '{key}' in TaskGroup '{self.group_id}'")
        self.children[key] = child

    def iter_tasks(self) -> Iterator[Task]:
        """Every task in this group and its subgroups."""
        for child in self.children.values():
            if isinstance(child, TaskGroup):
                yield from child.iter_tasks()
            else:
                yield child

    def get_roots(self) -> list[Task]:
        """Tasks of the group with no upstream inside the group."""
        ids = {t.task_id for t in self.iter_tasks()}
        return [t for t in self.iter_tasks() if not (t.upstream_task_ids & ids)]

    def get_leaves(self) -> list[Task]:
        """Tasks of the group with no downstream inside the group."""
        ids = {t.task_id for t in self.iter_tasks()}
        return [t for t in self.iter_tasks() if not (t.downstream_task_ids & ids)]

    def set_upstream(self, other: DependencyMixin | Sequence[DependencyMixin]) -> None:
        """Make ``other`` run before every root of this group."""
        roots = self.get_roots()
        if not roots:
            raise DagDefinitionError(f"TaskGroup '{self.group_id}' is empty: add tasks first")
        for item in as_list(other):
            for root in roots:
                root.set_upstream(item)

    def set_downstream(self, other: DependencyMixin | Sequence[DependencyMixin]) -> None:
        """Make ``other`` run after every leaf of this group."""
        leaves = self.get_leaves()
        if not leaves:
            raise DagDefinitionError(f"TaskGroup '{self.group_id}' is empty: add tasks first")
        for item in as_list(other):
            for leaf in leaves:
                leaf.set_downstream(item)

    def __enter__(self) -> TaskGroup:
        definition_context.push_group(self)
        return self

    def __exit__(self, *exc: object) -> None:
        definition_context.pop_group()

    def __repr__(self) -> str:
        return f"<TaskGroup {self.group_id!r}>"


def task_group(python_callable: Callable[P, R] | None = None, **group_kwargs: Any) -> Any:
    """``@task_group``: calling the function builds a TaskGroup around what it creates.

    The call returns the function's return value, or the group when it returns None,
    so that ``extract() >> load_group() >> report()`` wires the group.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, Any]:
        @functools.wraps(fn)
        def build(*args: P.args, **kwargs: P.kwargs) -> Any:
            kw = dict(group_kwargs)
            group_id = kw.pop("group_id", None) or fn.__name__
            kw.setdefault("tooltip", (fn.__doc__ or "").strip())
            # As Airflow: calling the decorated function again makes ``name__1``, ``name__2``.
            kw.setdefault("add_suffix_on_collision", True)
            with TaskGroup(group_id, **kw) as group:
                result = fn(*args, **kwargs)
            return group if result is None else result

        return build

    if python_callable is not None:
        return decorate(python_callable)
    return decorate
