"""The metadata database a task process may read Variables and Connections from.

The task runner sets it around a try (``with use_store(store):``); ``sluice dags test``
and ``tasks test`` give a function that opens it on first use, so that a run that reads
no variable never touches the database. Setting it costs nothing: no query is made until
DAG code reads a variable or a connection that the environment does not define.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # at run time only the type's name: importing SQLAlchemy is not cheap
    from sluice.store.engine import Store

Opener = Callable[[], "Store | None"]
"""Opens the store when first needed; None when there is none to open (environment only)."""

_current: list[_Slot] = []


class _Slot:
    """A store, or the function that opens it once when first needed."""

    def __init__(self, source: Store | Opener) -> None:
        is_store = hasattr(source, "sessions")  # a Store, not the function that opens one
        self.store: Store | None = source if is_store else None  # type: ignore[assignment]
        self.opener: Opener | None = None if is_store else source  # type: ignore[assignment]
        self.opened = False

    def get(self) -> Store | None:
        if self.opener is not None and not self.opened:
            self.opened = True  # once: a database that cannot be opened is not retried
            self.store = self.opener()
        return self.store


@contextmanager
def use_store(source: Store | Opener | None) -> Iterator[None]:
    """Make ``source`` the current store inside the block (a store opened by an opener is
    closed at the block's end); None leaves things as they are."""
    if source is None:
        yield
        return
    slot = _Slot(source)
    _current.append(slot)
    try:
        yield
    finally:
        _current.remove(slot)
        if slot.opener is not None and slot.store is not None:
            slot.store.dispose()


def current_store() -> Store | None:
    """The store set by the innermost :func:`use_store`, opening it if needed; or None."""
    return _current[-1].get() if _current else None


def run_store() -> Store | None:
    """The store of a try the task runner runs (given as a store, not opened on demand);
    None under ``dags test`` and ``tasks test``, whose tries the database does not track."""
    if not _current or _current[-1].opener is not None:
        return None
    return _current[-1].store
