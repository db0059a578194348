"""The ``>>`` / ``<<`` operators and the ``chain`` / ``cross_downstream`` helpers."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any, Self


class DependencyMixin:
    """Something that can stand on either side of ``>>``: a task, a group or an XComArg."""

    def set_upstream(self, other: DependencyMixin | Sequence[DependencyMixin]) -> None:
        """Make ``other`` run before this."""
        raise NotImplementedError

    def set_downstream(self, other: DependencyMixin | Sequence[DependencyMixin]) -> None:
        """Make ``other`` run after this."""
        raise NotImplementedError

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    # ``[a, b] >> c`` calls c.__rrshift__([a, b]): c gets the list as upstream.
    def __rrshift__(self, other: Any) -> Self:
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> Self:
        self.set_downstream(other)
        return self


def as_list(value: DependencyMixin | Iterable[DependencyMixin]) -> list[DependencyMixin]:
    """One dependency end, or a list/tuple/set of them, as a list."""
    if isinstance(value, DependencyMixin):
        return [value]
    items = list(value)
    for item in items:
        if not isinstance(item, DependencyMixin):
            raise TypeError(f"cannot set a dependency on {item!r}: not a task, group or XComArg")
    return items


def chain(*elements: DependencyMixin | Sequence[DependencyMixin]) -> None:
    """Chain tasks in order: ``chain(a, [b, c], d)`` is ``a >> [b, c] >> d``.

    Two adjacent lists must have the same length and are joined pairwise, as in Airflow.
    """
    for up, down in itertools.pairwise(elements):
        if isinstance(up, DependencyMixin) or isinstance(down, DependencyMixin):
            for u in as_list(up):
                u.set_downstream(down)
            continue
        ups, downs = as_list(up), as_list(down)
        if len(ups) != len(downs):
            raise ValueError(
                f"chain() got adjacent lists of different lengths ({len(ups)} and {len(downs)})"
            )
        for u, d in zip(ups, downs, strict=True):
            u.set_downstream(d)


def cross_downstream(
    from_tasks: Sequence[DependencyMixin], to_tasks: DependencyMixin | Sequence[DependencyMixin]
) -> None:
    """Make every task of ``from_tasks`` upstream of every task of ``to_tasks``."""
    for task in from_tasks:
        task.set_downstream(to_tasks)
