"""When a try that the scheduler finds dead may run again.

The runner asks the operator (``BaseOperator.retry_delay_after``); the scheduler has
only the serialized task, so it passes the same settings from there to the one
formula, ``sluice.sdk.operator.next_retry_delay``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sluice.parsing.serialized import SerializedTask
from sluice.sdk.operator import next_retry_delay


def retry_delay(task: SerializedTask, try_number: int, ti_identity: str) -> timedelta:
    """The wait after try ``try_number`` failed, from the serialized task's settings."""
    return next_retry_delay(
        timedelta(seconds=task.retry_delay),
        backoff=task.retry_exponential_backoff,
        max_retry_delay=(
            None if task.max_retry_delay is None else timedelta(seconds=task.max_retry_delay)
        ),
        try_number=try_number,
        ti_identity=ti_identity,
    )


def retry_at(
    task: SerializedTask | None,
    *,
    dag_id: str,
    logical_date: datetime,
    try_number: int,
    max_tries: int,
    now: datetime,
) -> datetime | None:
    """When try ``try_number + 1`` may start; None when no retry is left (or no task)."""
    if task is None or try_number > max_tries:
        return None
    identity = f"{dag_id}#{task.task_id}#{logical_date.isoformat()}"
    return now + retry_delay(task, try_number, identity)
