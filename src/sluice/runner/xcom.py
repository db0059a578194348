"""XCom storage seen by a running task, and an in-memory store for test runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sluice.core.xcom_codec import decode_xcom, encode_xcom


class XComStore(Protocol):
    """Where a run's XCom values live; the database-backed one comes with the store."""

    def set(self, task_id: str, map_index: int, key: str, value: str) -> None:
        """Store an encoded value, replacing one with the same key."""

    def get(self, task_id: str, map_index: int, key: str) -> str | None:
        """The encoded value, or None."""

    def map_indexes(self, task_id: str, key: str) -> list[int]:
        """The map indexes that have a value for this key, ascending."""

    def clear(self, task_id: str, map_index: int) -> None:
        """Drop a task instance's values (before it runs again)."""


@dataclass
class MemoryXComStore:
    """XCom values of one run, held in memory (``dags test``, ``tasks test``)."""

    values: dict[tuple[str, int, str], str] = field(default_factory=dict)
    # The keys of each task instance, so clearing one is not a scan of the whole run.
    _keys: dict[tuple[str, int], set[str]] = field(default_factory=dict, repr=False)

    def set(self, task_id: str, map_index: int, key: str, value: str) -> None:
        """Store an encoded value."""
        self.values[(task_id, map_index, key)] = value
        self._keys.setdefault((task_id, map_index), set()).add(key)

    def get(self, task_id: str, map_index: int, key: str) -> str | None:
        """The encoded value, or None."""
        return self.values.get((task_id, map_index, key))

    def map_indexes(self, task_id: str, key: str) -> list[int]:
        """The map indexes with a value for this key."""
        return sorted(m for (t, m, k) in self.values if t == task_id and k == key)

    def clear(self, task_id: str, map_index: int) -> None:
        """Drop a task instance's values."""
        for key in self._keys.pop((task_id, map_index), ()):
            self.values.pop((task_id, map_index, key), None)


def push(
    store: XComStore, task_id: str, map_index: int, key: str, value: Any, *, where: str
) -> None:
    """Encode and store; a value XCom cannot hold raises XComError naming ``where``."""
    store.set(task_id, map_index, key, encode_xcom(value, where=where))


def pull_one(store: XComStore, task_id: str, map_index: int, key: str) -> Any:
    """One decoded value, or None."""
    raw = store.get(task_id, map_index, key)
    return None if raw is None else decode_xcom(raw)
