"""When a try that the scheduler finds dead may run again: Airflow's retry delay formula.

The runner computes the same delay from the operator when a try fails in its hands
(``BaseOperator.retry_delay_after``); the scheduler has only the serialized task, so
it reads the same settings from there.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from sluice.parsing.serialized import SerializedTask
from sluice.sdk.operator import MAX_RETRY_DELAY_SECONDS


def retry_delay(task: SerializedTask, try_number: int, ti_identity: str) -> timedelta:
    """The wait after try ``try_number`` failed: ``retry_delay``, or exponential backoff.

    With backoff: at least ``retry_delay * 2**(try-1)`` and below twice that, the jitter
    drawn from the instance's identity (``dag_id#task_id#logical_date``), capped by
    ``max_retry_delay`` and 24 hours, as ``BaseOperator.retry_delay_after``.
    """
    delay = timedelta(seconds=task.retry_delay)
    if task.retry_exponential_backoff:
        try:
            min_backoff = math.ceil(task.retry_delay * (2 ** (try_number - 1)))
        except OverflowError:
            min_backoff = MAX_RETRY_DELAY_SECONDS
        min_backoff = max(1, min_backoff)
        digest = hashlib.sha1(f"{ti_identity}#{try_number}".encode()).hexdigest()
        seconds = min_backoff + int(digest, 16) % min_backoff
        delay = timedelta(seconds=min(seconds, MAX_RETRY_DELAY_SECONDS))
        if task.max_retry_delay:
            delay = min(timedelta(seconds=task.max_retry_delay), delay)
    return delay


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
