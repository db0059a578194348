"""Which runs a backfill or an unpause would create: a DAG's timetable walked over a range.

Both are shown before anything is written, so that nobody is surprised by a thousand
runs: ``dags backfill --dry-run`` lists them, and unpausing a catchup DAG asks for
``--yes`` above ``[scheduler] catchup_confirm_threshold``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sluice.core.errors import SluiceError
from sluice.parsing.serialized import SerializedDag
from sluice.scheduler.backfills import SKIPS, backfill_action, backfill_intervals
from sluice.sdk.schedules import DagRunInfo, iter_dagrun_infos
from sluice.store.tables import DagRun

MAX_RUNS = 10_000
"""Most runs one backfill covers. Walking a cron timetable costs about a millisecond a
step, so a larger range (a per-minute schedule over a year) is refused, not walked."""

COUNT_AT_LEAST = 200
"""Catchup runs counted one by one before ``catchup_plan`` says "more than"."""


class BackfillRangeError(SluiceError):
    """Raised when a backfill's dates or the DAG's schedule leave nothing sensible to run."""


@dataclass(frozen=True)
class PlannedRun:
    """One logical date of a backfill: its interval, the run there already, what to do."""

    info: DagRunInfo
    existing: DagRun | None
    action: str

    @property
    def acts(self) -> bool:
        """Whether the backfill creates or reruns this run (it does not skip it)."""
        return self.action not in SKIPS


@dataclass(frozen=True)
class CatchupPlan:
    """The runs unpausing a DAG would create at once."""

    count: int
    first: DagRunInfo | None
    last: DagRunInfo | None
    capped: bool
    """True when there are more than MAX_RUNS (``count`` is then MAX_RUNS)."""


def first_start(dag: SerializedDag) -> datetime | None:
    """The DAG's start_date, else its earliest task start_date (what the scheduler uses)."""
    if dag.start_date is not None:
        return dag.start_date
    starts = [t.start_date for t in dag.tasks.values() if t.start_date is not None]
    return min(starts) if starts else None


def catchup_plan(
    dag: SerializedDag,
    *,
    next_logical_date: datetime | None,
    last_logical_date: datetime | None,
    now: datetime,
    threshold: int,
) -> CatchupPlan:
    """The runs the scheduler creates when a catchup DAG is unpaused: every interval that
    has ended, from the DAG's next run (else after its last scheduled run, else from its
    start_date) to ``now``. Counted one by one up to past ``threshold`` only."""
    start = first_start(dag)
    if not (dag.catchup and dag.timetable.periodic and start is not None):
        return CatchupPlan(0, None, None, capped=False)
    after = None
    if next_logical_date is not None:
        start = max(start, next_logical_date)
    elif last_logical_date is not None:
        after = last_logical_date
    end = now if dag.end_date is None else min(now, dag.end_date)
    if end < start:
        return CatchupPlan(0, None, None, capped=False)
    cap = max(COUNT_AT_LEAST, threshold + 1)
    infos = iter_dagrun_infos(
        dag.timetable, start_date=start, end_date=end, after=after, limit=cap + 1
    )
    due = [info for info in infos if info.run_after <= now]
    if len(due) <= cap:
        return CatchupPlan(len(due), due[0] if due else None, due[-1] if due else None, False)
    # Too many to walk: the last one is the latest interval that ended, found at once.
    [latest] = iter_dagrun_infos(
        dag.timetable, start_date=start, end_date=end, catchup=False, limit=1, now=now
    )
    return CatchupPlan(cap, due[0], latest, capped=True)


def check_backfill_range(dag: SerializedDag, start: datetime, end: datetime, now: datetime) -> None:
    """Refuse a backfill range that is upside down, outside the DAG's dates or all ahead."""
    if end < start:
        raise BackfillRangeError(
            f"--end-date {end.isoformat()} is before --start-date {start.isoformat()}"
        )
    if not dag.timetable.periodic:
        raise BackfillRangeError(
            f"DAG '{dag.dag_id}' has schedule {dag.schedule_summary}, which has no intervals"
            " to backfill; a backfill needs a cron, preset or timedelta schedule"
            " (trigger runs with `sluice dags trigger` instead)"
        )
    dag_start = first_start(dag)
    if dag_start is not None and start < dag_start:
        raise BackfillRangeError(
            f"--start-date {start.isoformat()} is before the start_date of DAG"
            f" '{dag.dag_id}', {dag_start.isoformat()}"
        )
    if dag.end_date is not None and end > dag.end_date:
        raise BackfillRangeError(
            f"--end-date {end.isoformat()} is after the end_date of DAG '{dag.dag_id}',"
            f" {dag.end_date.isoformat()}"
        )
    if start > now:
        raise BackfillRangeError(
            f"--start-date {start.isoformat()} is in the future; a backfill runs intervals"
            " that have already ended"
        )


def backfill_plan(
    dag: SerializedDag,
    existing: Sequence[DagRun],
    *,
    start: datetime,
    end: datetime,
    reset_dagruns: bool,
    rerun_failed_tasks: bool,
    now: datetime,
) -> list[PlannedRun]:
    """Every interval of the DAG with a logical date in [start, end] that has ended by
    ``now``, oldest first, with the run already there and what the backfill does to it.

    A queued or running run is never touched; a finished one is cleared with
    ``reset_dagruns``, or has its failed tasks rerun with ``rerun_failed_tasks``.
    """
    check_backfill_range(dag, start, end, now)
    infos = backfill_intervals(dag, start, end, now, limit=MAX_RUNS + 1)
    if len(infos) > MAX_RUNS:
        raise BackfillRangeError(
            f"a backfill of DAG '{dag.dag_id}' from {start.isoformat()} to {end.isoformat()}"
            f" would cover more than {MAX_RUNS} runs; split it into smaller ranges"
        )
    if not infos:
        raise BackfillRangeError(
            f"DAG '{dag.dag_id}' ({dag.schedule_summary}) has no interval with a logical date"
            f" from {start.isoformat()} to {end.isoformat()} that has already ended"
        )
    by_date = {run.logical_date: run for run in existing}
    return [
        PlannedRun(
            info,
            run,
            backfill_action(
                run, reset_dagruns=reset_dagruns, rerun_failed_tasks=rerun_failed_tasks
            ),
        )
        for info in infos
        for run in [by_date.get(info.logical_date)]
    ]
