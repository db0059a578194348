"""What a data-quality check operator does with its outcomes, in the task process: log
each one, store them for this try in the metadata database (in a transaction of their
own, before the task fails for them, so that failed checks are kept), then fail the task
if a check of severity ``error`` failed.

Results are stored only in a try the task runner started (its ``task_try`` row is
running in this process): ``sluice dags test`` and a plain Python call write nothing, as
they promise, and only log the results; the XCom summary shows them there too.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from sluice.core.errors import FailTask
from sluice.core.messages import TaskInstanceKey
from sluice.integrations.errors import IntegrationError
from sluice.integrations.masking import mask_text
from sluice.integrations.runtime import run_store
from sluice.integrations.sql.check_rules import CheckOutcome

log = logging.getLogger("sluice.task")


class DataQualityCheckFailed(IntegrationError):
    """Raised when one or more data-quality checks of severity ``error`` failed."""

    def __init__(self, message: str, failed: Sequence[CheckOutcome]) -> None:
        super().__init__(message)
        self.failed = tuple(failed)


class DataQualityCheckFailedNoRetry(DataQualityCheckFailed, FailTask):
    """Raised instead when the operator has ``retry_on_failure=False``: the task fails
    at once, without its retries (Airflow's AirflowFailException)."""


def finish_checks(
    context: Mapping[str, Any],
    task_id: str,
    outcomes: Sequence[CheckOutcome],
    *,
    retry_on_failure: bool = True,
) -> list[dict[str, Any]]:
    """Log, store, and fail for the failed errors; returns the XCom summary."""
    for outcome in outcomes:
        if outcome.passed:
            log.info("check passed: %s", outcome.describe())
        elif outcome.severity == "warn":
            log.warning("check failed (a warning, the task goes on): %s", outcome.describe())
        else:
            log.error("check failed: %s", outcome.describe())
    store_outcomes(context, outcomes)
    failed = [o for o in outcomes if not o.passed and o.severity != "warn"]
    warned = sum(1 for o in outcomes if o.outcome == "warn")
    if failed:
        raise failure(task_id, failed, len(outcomes), retry_on_failure=retry_on_failure)
    note = f", {warned} failed as warnings" if warned else ""
    log.info("%d check(s) of task '%s' passed%s", len(outcomes) - warned, task_id, note)
    return [outcome.as_dict() for outcome in outcomes]


def failure(
    task_id: str, failed: Sequence[CheckOutcome], total: int, *, retry_on_failure: bool = True
) -> DataQualityCheckFailed:
    """The error that lists every failed check: name, table, column, observed, expected."""
    lines = "\n".join(f"  - {outcome.describe()}" for outcome in failed)
    message = f"{len(failed)} of {total} data-quality check(s) of task '{task_id}' failed:\n{lines}"
    kind = DataQualityCheckFailed if retry_on_failure else DataQualityCheckFailedNoRetry
    return kind(message, failed)


def store_outcomes(context: Mapping[str, Any], outcomes: Sequence[CheckOutcome]) -> bool:
    """Store the outcomes for this try, when the task runner runs it; whether it did.

    A database that refuses the write is logged, not raised: the checks' verdict, not
    the bookkeeping, decides how the task ends.
    """
    ti = context.get("ti")
    if ti is None or not outcomes:
        return False
    store = run_store()
    if store is None:
        log.info("not a try the scheduler runs: the check results are in this log only")
        return False
    # SQLAlchemy comes with the store module: imported only when there is a store.
    from sluice.store.check_results import NewCheckResult, add_check_results, is_running_here

    key = TaskInstanceKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
    rows = [
        NewCheckResult(
            check_name=o.name, check_type=o.check_type, table_name=o.table,
            column_name=o.column, observed=None if o.observed is None else mask_text(o.observed),
            expectation=mask_text(o.expectation), passed=o.passed, severity=o.severity,
        )
        for o in outcomes
    ]  # fmt: skip
    try:
        with store.transaction() as session:
            pid, host = os.getpid(), socket.gethostname()
            if not is_running_here(session, key, ti.try_number, pid=pid, hostname=host):
                log.info("not a try the scheduler runs: the check results are in this log only")
                return False
            add_check_results(session, key, ti.try_number, rows)
    except Exception as exc:
        log.error("the check results could not be stored: %s: %s", type(exc).__name__, exc)
        return False
    log.info("stored %d check result(s) of try %d", len(rows), ti.try_number)
    return True
