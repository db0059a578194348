"""XComArg: a reference to another task's output, resolved when the task runs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sluice.sdk.dependencies import DependencyMixin

if TYPE_CHECKING:
    from sluice.sdk.operator import AbstractOperator

RETURN_VALUE = "return_value"


class XComArg(DependencyMixin):
    """``task.output`` or a TaskFlow call's result: pulls that task's XCom at run time."""

    def __init__(self, operator: AbstractOperator, key: str = RETURN_VALUE) -> None:
        self.operator = operator
        self.key = key

    def __getitem__(self, key: str) -> XComArg:
        return XComArg(self.operator, key)

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(
            f"the output of '{self.operator.task_id}' is only known when it runs; "
            "pass it to a task (or .expand() over it) instead of iterating it here"
        )

    def set_upstream(self, other: DependencyMixin | Sequence[DependencyMixin]) -> None:
        """Make ``other`` run before the task behind this output."""
        self.operator.set_upstream(other)

    def set_downstream(self, other: DependencyMixin | Sequence[DependencyMixin]) -> None:
        """Make ``other`` run after the task behind this output."""
        self.operator.set_downstream(other)

    def resolve(self, context: Mapping[str, Any]) -> Any:
        """The value, pulled from XCom (a list in map order if the task is mapped)."""
        return context["ti"].xcom_pull(task_ids=self.operator.task_id, key=self.key)

    def __str__(self) -> str:
        """The Jinja template that pulls this value, for use in a templated string.

        As Airflow, ``f"echo {task.output}"`` renders to the value when the field is
        rendered, but a string sets no dependency: set it with ``>>`` as well.
        """
        pull = (
            f"task_ids='{self.operator.task_id}', dag_id='{self.operator.dag_id}', key='{self.key}'"
        )
        return "{{ task_instance.xcom_pull(" + pull + ") }}"

    def __repr__(self) -> str:
        return f"XComArg({self.operator.task_id!r}, {self.key!r})"


def find_xcom_args(value: Any) -> Iterator[XComArg]:
    """Every XComArg inside a value, looking into lists, tuples, sets and dicts."""
    if isinstance(value, XComArg):
        yield value
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from find_xcom_args(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from find_xcom_args(item)
