"""What crosses a process boundary: frozen, versioned data, never live objects or user code."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Any

MESSAGE_VERSION = 2
"""2: a CallbackWorkload may name a task (``task_id``, ``map_index``, ``try_number``)."""
READABLE_VERSIONS = frozenset({1, 2})
"""Versions ``from_dict`` accepts: a version-1 message reads as a version-2 one."""


@dataclass(frozen=True)
class TaskInstanceKey:
    """Which task instance: DAG, run, task and map index."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    def __str__(self) -> str:
        index = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id}.{self.task_id}{index} ({self.run_id})"


@dataclass(frozen=True)
class TaskWorkload:
    """Run one try of one task instance: what an executor hands to a task runner."""

    key: TaskInstanceKey
    try_number: int
    dag_file: str
    """The DAG file the runner imports to find the task (the DAG's fileloc)."""
    queue: str = "default"
    priority: int = 1
    version: int = MESSAGE_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for a broker."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskWorkload:
        """The inverse of :meth:`to_dict`; refuses another message version."""
        _check_version(data)
        key = TaskInstanceKey(**data["key"])
        return cls(**{**data, "key": key, "version": MESSAGE_VERSION})


@dataclass(frozen=True)
class CallbackWorkload:
    """Run a DAG's on_success_callback / on_failure_callback for a run or, with ``task_id``,
    a task's on_failure_callback / on_retry_callback for a try the scheduler failed."""

    dag_id: str
    run_id: str
    dag_file: str
    kind: str
    """``success`` or ``failure`` (a DAG's, or a task's), or ``retry`` (a task's)."""
    reason: str = ""
    task_id: str | None = None
    map_index: int = -1
    try_number: int = 0
    """The try the scheduler failed (with ``task_id``)."""
    version: int = MESSAGE_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for a broker."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallbackWorkload:
        """The inverse of :meth:`to_dict`; refuses a version it cannot read."""
        _check_version(data)
        return cls(**{**data, "version": MESSAGE_VERSION})


def _check_version(data: dict[str, Any]) -> None:
    if data.get("version") not in READABLE_VERSIONS:
        raise ValueError(
            f"workload version {data.get('version')!r} is not one of {sorted(READABLE_VERSIONS)}"
        )


@dataclass(frozen=True)
class TaskEvent:
    """An executor's report that a workload's process ended."""

    key: TaskInstanceKey
    try_number: int
    exit_code: int | None
    """None when the process could not be started; negative for a signal."""
    message: str = ""


class RunnerExit(IntEnum):
    """Exit codes of a task runner's process, which executors report in TaskEvent.exit_code."""

    OUTCOME_WRITTEN = 0
    """The try ran and its outcome is in the database, whatever the outcome."""
    CRASHED = 1
    """The runner failed before it could write the outcome: the try goes into its retry path."""
    NOT_QUEUED = 3
    """Nothing ran: the instance was not queued (another runner has it, or it is gone)."""
    TAKEN_AWAY = 4
    """The try ran, but meanwhile the instance was cleared, marked or declared dead, so its
    outcome was not written."""
