"""The states of task instances and DAG runs, and which transitions are allowed.

The table is data: the store's transition writer (a later layer) checks every
change against it, and nothing else decides what may follow what.
"""

from __future__ import annotations

from enum import StrEnum


class TaskInstanceState(StrEnum):
    """The state of one task instance (one task, one run, one map index)."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    UP_FOR_RETRY = "up_for_retry"
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    REMOVED = "removed"
    RESTARTING = "restarting"


class DagRunState(StrEnum):
    """The state of one DAG run."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


# None is Airflow's "no status": created, nothing decided yet.
TaskState = TaskInstanceState | None

FINISHED_TASK_STATES: frozenset[TaskInstanceState] = frozenset(
    {
        TaskInstanceState.SUCCESS,
        TaskInstanceState.FAILED,
        TaskInstanceState.SKIPPED,
        TaskInstanceState.UPSTREAM_FAILED,
        TaskInstanceState.REMOVED,
    }
)
"""States a task instance does not leave unless a user clears it."""

FAILED_TASK_STATES: frozenset[TaskInstanceState] = frozenset(
    {TaskInstanceState.FAILED, TaskInstanceState.UPSTREAM_FAILED}
)

FINISHED_RUN_STATES: frozenset[DagRunState] = frozenset({DagRunState.SUCCESS, DagRunState.FAILED})

_S = TaskInstanceState

TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    None: frozenset(
        {_S.SCHEDULED, _S.QUEUED, _S.SKIPPED, _S.UPSTREAM_FAILED, _S.REMOVED, _S.SUCCESS, _S.FAILED}
    ),
    _S.SCHEDULED: frozenset(
        {None, _S.QUEUED, _S.SKIPPED, _S.UPSTREAM_FAILED, _S.REMOVED, _S.SUCCESS, _S.FAILED}
    ),
    _S.QUEUED: frozenset(
        {
            None,
            _S.SCHEDULED,
            _S.RUNNING,
            _S.FAILED,
            _S.UP_FOR_RETRY,
            _S.SUCCESS,
            _S.SKIPPED,
            _S.REMOVED,
        }
    ),
    _S.RUNNING: frozenset(
        {_S.SUCCESS, _S.FAILED, _S.SKIPPED, _S.UP_FOR_RETRY, _S.UP_FOR_RESCHEDULE, _S.RESTARTING}
    ),
    _S.UP_FOR_RETRY: frozenset(
        {None, _S.SCHEDULED, _S.QUEUED, _S.FAILED, _S.SUCCESS, _S.SKIPPED, _S.REMOVED}
    ),
    _S.UP_FOR_RESCHEDULE: frozenset(
        {None, _S.SCHEDULED, _S.QUEUED, _S.FAILED, _S.SUCCESS, _S.SKIPPED, _S.REMOVED}
    ),
    _S.RESTARTING: frozenset({None, _S.SCHEDULED, _S.QUEUED, _S.FAILED, _S.UP_FOR_RETRY}),
    # Finished states move only when a user clears (None) or marks them; clearing
    # gives RESTARTING only to a running instance, as Airflow's clear_task_instances.
    _S.SUCCESS: frozenset({None, _S.FAILED, _S.SKIPPED}),
    _S.FAILED: frozenset({None, _S.SUCCESS, _S.SKIPPED}),
    _S.SKIPPED: frozenset({None, _S.SUCCESS, _S.FAILED}),
    _S.UPSTREAM_FAILED: frozenset({None, _S.SUCCESS, _S.FAILED, _S.SKIPPED}),
    _S.REMOVED: frozenset({None}),
}
"""From-state to the states it may move to. A user's clear is a move to None."""

RUN_TRANSITIONS: dict[DagRunState, frozenset[DagRunState]] = {
    DagRunState.QUEUED: frozenset({DagRunState.RUNNING, DagRunState.FAILED, DagRunState.SUCCESS}),
    DagRunState.RUNNING: frozenset({DagRunState.SUCCESS, DagRunState.FAILED, DagRunState.QUEUED}),
    DagRunState.SUCCESS: frozenset({DagRunState.QUEUED, DagRunState.FAILED}),
    DagRunState.FAILED: frozenset({DagRunState.QUEUED, DagRunState.SUCCESS}),
}


def task_transition_allowed(old: TaskState, new: TaskState) -> bool:
    """Whether a task instance may move from ``old`` to ``new``."""
    return new in TASK_TRANSITIONS[old]


def run_transition_allowed(old: DagRunState, new: DagRunState) -> bool:
    """Whether a DAG run may move from ``old`` to ``new``."""
    return new in RUN_TRANSITIONS[old]
