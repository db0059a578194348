"""A DAG's recent history as its detail pages show it: bounded, indexed reads only.

Every query here is bounded by a number of runs or a range of logical dates, never the
whole history of a DAG (which can hold thousands of runs): the grid reads the last N
runs and then all their task instances in one query over (dag_id, run_id IN ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sluice.store.run_queries import DagRunNotFound
from sluice.store.tables import DagRun, TaskInstance, TaskTry

DEFAULT_RUNS = 25
MAX_RUNS = 365
"""Most runs a history page reads at once."""

_NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RunSummary:
    """One run's columns that the history pages show."""

    run_id: str
    run_type: str
    state: str
    logical_date: datetime
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    start_date: datetime | None
    end_date: datetime | None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, when the run has both."""
        if self.start_date is None or self.end_date is None:
            return None
        return (self.end_date - self.start_date).total_seconds()


@dataclass(frozen=True)
class InstanceSummary:
    """One task instance's columns the grid shows (no dates: reading 1,250 of them costs
    more than the query on SQLite)."""

    run_id: str
    task_id: str
    map_index: int
    state: str | None
    try_number: int
    duration: float | None


@dataclass(frozen=True)
class TryBar:
    """One try of a task instance, for the Gantt chart."""

    task_id: str
    map_index: int
    try_number: int
    state: str | None
    start_date: datetime | None
    end_date: datetime | None


@dataclass(frozen=True)
class TaskSpan:
    """How long one task took in one run (a mapped task: first start to last end)."""

    run_id: str
    task_id: str
    start_date: datetime | None
    end_date: datetime | None
    longest: float | None
    """The longest instance's own duration, for when start or end is missing."""

    @property
    def duration(self) -> float | None:
        """Seconds the task took in the run."""
        if self.start_date is not None and self.end_date is not None:
            return (self.end_date - self.start_date).total_seconds()
        return self.longest


_RUN_COLUMNS = (
    DagRun.run_id,
    DagRun.run_type,
    DagRun.state,
    DagRun.logical_date,
    DagRun.data_interval_start,
    DagRun.data_interval_end,
    DagRun.start_date,
    DagRun.end_date,
)


def recent_runs(session: Session, dag_id: str, limit: int = DEFAULT_RUNS) -> list[RunSummary]:
    """The DAG's last ``limit`` runs by logical date, oldest first (newest on the right)."""
    rows = session.execute(
        select(*_RUN_COLUMNS)
        .where(DagRun.dag_id == dag_id)
        .order_by(DagRun.logical_date.desc())
        .limit(limit)
    )
    return [RunSummary(*row) for row in reversed(rows.all())]


def runs_in_range(
    session: Session, dag_id: str, start: datetime, end: datetime
) -> list[RunSummary]:
    """The DAG's runs with a logical date in [start, end], oldest first (the calendar's)."""
    rows = session.execute(
        select(*_RUN_COLUMNS)
        .where(DagRun.dag_id == dag_id, DagRun.logical_date >= start, DagRun.logical_date <= end)
        .order_by(DagRun.logical_date)
    )
    return [RunSummary(*row) for row in rows]


def find_run(session: Session, dag_id: str, run_id: str) -> RunSummary:
    """One run of the DAG; DagRunNotFound (without listing the DAG's whole history)."""
    row = session.execute(
        select(*_RUN_COLUMNS).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
    ).first()
    if row is None:
        raise DagRunNotFound(f"DAG '{dag_id}' has no run '{run_id}'")
    return RunSummary(*row)


def grid_instances(session: Session, dag_id: str, run_ids: Sequence[str]) -> list[InstanceSummary]:
    """Every task instance of these runs, in one query (index dag_id, run_id, state)."""
    if not run_ids:
        return []
    rows = session.execute(
        select(
            TaskInstance.run_id,
            TaskInstance.task_id,
            TaskInstance.map_index,
            TaskInstance.state,
            TaskInstance.try_number,
            TaskInstance.duration,
        ).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id.in_(list(run_ids)))
    )
    return [InstanceSummary(*row) for row in rows]


def run_tries(session: Session, dag_id: str, run_id: str) -> list[TryBar]:
    """Every try of every task instance of one run, by start (not started: last).

    The runner writes a task_try row per try; an instance's current try that has none
    (states set by hand, or a store older than the table) is taken from the instance.
    """
    rows = session.execute(
        select(
            TaskTry.task_id,
            TaskTry.map_index,
            TaskTry.try_number,
            TaskTry.state,
            TaskTry.start_date,
            TaskTry.end_date,
        ).where(TaskTry.dag_id == dag_id, TaskTry.run_id == run_id)
    )
    bars = [TryBar(*row) for row in rows]
    known = {(b.task_id, b.map_index, b.try_number) for b in bars}
    current = session.execute(
        select(
            TaskInstance.task_id,
            TaskInstance.map_index,
            TaskInstance.try_number,
            TaskInstance.state,
            TaskInstance.start_date,
            TaskInstance.end_date,
        ).where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.start_date.is_not(None),
        )
    )
    for row in current:
        bar = TryBar(*row)
        if (bar.task_id, bar.map_index, bar.try_number) not in known:
            bars.append(bar)
    return sorted(bars, key=lambda b: (b.start_date or _NEVER, b.task_id, b.map_index,
                                       b.try_number))  # fmt: skip


def task_spans(session: Session, dag_id: str, run_ids: Sequence[str]) -> list[TaskSpan]:
    """For each task of these runs, when it started and ended (GROUP BY over the runs)."""
    if not run_ids:
        return []
    rows = session.execute(
        select(
            TaskInstance.run_id,
            TaskInstance.task_id,
            func.min(TaskInstance.start_date),
            func.max(TaskInstance.end_date),
            func.max(TaskInstance.duration),
        )
        .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id.in_(list(run_ids)))
        .group_by(TaskInstance.run_id, TaskInstance.task_id)
    )
    return [TaskSpan(*row) for row in rows]
