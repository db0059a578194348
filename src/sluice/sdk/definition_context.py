"""Which DAG and TaskGroup a ``with`` block is defining, so tasks find their owner.

State lives only while DAG files are being imported; nothing is set at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sluice.sdk.dag import DAG
    from sluice.sdk.taskgroup import TaskGroup

_dags: list[DAG] = []
_groups: list[TaskGroup] = []
_suspended = 0
_dag_listeners: list[Callable[[DAG], None]] = []


def push_dag(dag: DAG) -> None:
    """Enter ``with dag:``."""
    _dags.append(dag)


def pop_dag() -> None:
    """Leave ``with dag:``."""
    _dags.pop()


def current_dag() -> DAG | None:
    """The DAG of the innermost ``with`` block, if any."""
    if _suspended or not _dags:
        return None
    return _dags[-1]


def push_group(group: TaskGroup) -> None:
    """Enter ``with TaskGroup(...):``."""
    _groups.append(group)


def pop_group() -> None:
    """Leave ``with TaskGroup(...):``."""
    _groups.pop()


def current_group(dag: DAG | None) -> TaskGroup | None:
    """The innermost open TaskGroup that belongs to ``dag``."""
    if _suspended:
        return None
    for group in reversed(_groups):
        if group.dag is dag:
            return group
    return None


class detached:
    """Build operators outside every open DAG (expanding a mapped task at run time)."""

    def __enter__(self) -> None:
        global _suspended
        _suspended += 1

    def __exit__(self, *exc: object) -> None:
        global _suspended
        _suspended -= 1


def is_detached() -> bool:
    """Whether operators are being built outside every DAG (see :class:`detached`)."""
    return _suspended > 0


def dag_created(dag: DAG) -> None:
    """Called at the end of ``DAG.__init__``: tells the importer about DAGs no global holds."""
    for listener in _dag_listeners:
        listener(dag)


@contextmanager
def watching_new_dags(listener: Callable[[DAG], None]) -> Iterator[None]:
    """Call ``listener`` with every DAG created inside the block (the DAG file importer's hook)."""
    _dag_listeners.append(listener)
    try:
        yield
    finally:
        _dag_listeners.remove(listener)
