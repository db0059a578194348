"""The scheduler's reads of DAGs and DAG runs, and the run locks two schedulers share.

States are written by ``sluice.store.transitions`` only; what is written here is
bookkeeping: the ``needs_scheduling`` flag a scheduler clears once it has decided a run,
and which backfill a run belongs to.

Locks: on PostgreSQL and MySQL a scheduler locks the runs it works on with
``SELECT ... FOR UPDATE SKIP LOCKED``, so that a second scheduler skips them instead of
deciding the same run at once. SQLite has one writer at a time and one scheduler.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TypeVar, cast

from sqlalchemy import ColumnElement, Select, Table, bindparam, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from sluice.core.states import DagRunState
from sluice.store.tables import Backfill, Dag, DagRun

_K = TypeVar("_K")

ACTIVE_RUN_STATES = (DagRunState.QUEUED.value, DagRunState.RUNNING.value)


# -- run creation -------------------------------------------------------------------------


def due_dags(session: Session, now: datetime) -> list[Dag]:
    """Active, unpaused DAGs whose next scheduled run may be created now, locked (a second
    scheduler skips them, so that a run is never created twice)."""
    return list(
        session.scalars(
            select(Dag)
            .where(
                Dag.is_paused.is_(False),
                Dag.is_active.is_(True),
                Dag.next_dagrun_create_after <= now,
            )
            .order_by(Dag.next_dagrun_create_after)
            .with_for_update(skip_locked=True)
        )
    )


def lock_dags(session: Session, dag_ids: Collection[str]) -> set[str]:
    """Lock these DAGs' rows for this transaction; the ids no other scheduler holds.

    Whoever holds a DAG's row creates and starts its runs, so that two schedulers never
    both count its active runs and go over max_active_runs.
    """
    return set(_lock_rows(session, Dag.dag_id, dag_ids))


def lock_backfill(session: Session, backfill_id: int) -> bool:
    """Lock a backfill's row for this transaction; False when another scheduler holds it."""
    found = session.scalar(
        select(Backfill.id).where(Backfill.id == backfill_id).with_for_update(skip_locked=True)
    )
    return found is not None


def next_creation_at(session: Session) -> datetime | None:
    """When the next scheduled run of an active, unpaused DAG may be created."""
    return session.scalar(
        select(func.min(Dag.next_dagrun_create_after)).where(
            Dag.is_paused.is_(False), Dag.is_active.is_(True)
        )
    )


def active_runs(session: Session, dag_id: str) -> int:
    """The DAG's queued and running runs outside backfills (what max_active_runs bounds)."""
    return int(
        session.scalar(
            select(func.count()).where(
                DagRun.dag_id == dag_id,
                DagRun.state.in_(ACTIVE_RUN_STATES),
                DagRun.backfill_id.is_(None),
            )
        )
        or 0
    )


def has_run_at(session: Session, dag_id: str, logical_date: datetime) -> bool:
    """Whether the DAG has a run with this logical date."""
    found = session.scalar(
        select(DagRun.id).where(DagRun.dag_id == dag_id, DagRun.logical_date == logical_date)
    )
    return found is not None


def runs_at(session: Session, dag_id: str, dates: Collection[datetime]) -> dict[datetime, DagRun]:
    """The DAG's runs with these logical dates, by logical date."""
    if not dates:
        return {}
    rows = session.scalars(
        select(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date.in_(list(dates)))
    )
    return {run.logical_date: run for run in rows}


# -- starting queued runs -----------------------------------------------------------------


def queued_runs(session: Session) -> list[DagRun]:
    """Queued runs, oldest logical date first, within each DAG."""
    return list(
        session.scalars(
            select(DagRun)
            .where(DagRun.state == DagRunState.QUEUED.value)
            .order_by(DagRun.dag_id, DagRun.logical_date)
        )
    )


def running_counts(session: Session) -> tuple[dict[str, int], dict[int, int]]:
    """Running runs per DAG outside backfills, and per backfill."""
    rows = session.execute(
        select(DagRun.dag_id, DagRun.backfill_id, func.count())
        .where(DagRun.state == DagRunState.RUNNING.value)
        .group_by(DagRun.dag_id, DagRun.backfill_id)
    )
    per_dag: dict[str, int] = {}
    per_backfill: dict[int, int] = {}
    for dag_id, backfill_id, count in rows:
        if backfill_id is None:
            per_dag[dag_id] = per_dag.get(dag_id, 0) + count
        else:
            per_backfill[backfill_id] = per_backfill.get(backfill_id, 0) + count
    return per_dag, per_backfill


def dag_rows(session: Session, dag_ids: Collection[str]) -> dict[str, Dag]:
    """DAG rows by id."""
    if not dag_ids:
        return {}
    return {dag.dag_id: dag for dag in session.scalars(select(Dag).where(Dag.dag_id.in_(dag_ids)))}


def running_runs(session: Session) -> list[DagRun]:
    """Every running run (to check dagrun_timeout)."""
    return list(session.scalars(select(DagRun).where(DagRun.state == DagRunState.RUNNING.value)))


# -- deciding runs ------------------------------------------------------------------------


def not_paused() -> ColumnElement[bool]:
    """Runs that may go on: of an unpaused DAG, or of a backfill (which runs paused DAGs too).

    Core columns, so that a Core statement using it stays one (ORM ones cost more to run).
    """
    runs, dags = cast(Table, DagRun.__table__), cast(Table, Dag.__table__)
    paused = select(dags.c.dag_id).where(dags.c.is_paused.is_(True))
    return runs.c.dag_id.not_in(paused) | runs.c.backfill_id.is_not(None)


@functools.cache
def _runs_to_schedule(limit: int) -> Select[DagRun]:
    # Built once: the scheduler runs it on every pass.
    return (
        select(DagRun)
        .where(
            DagRun.state == DagRunState.RUNNING.value,
            DagRun.needs_scheduling.is_(True),
            not_paused(),
        )
        .order_by(DagRun.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def lock_runs_to_schedule(session: Session, *, limit: int) -> list[DagRun]:
    """Running runs flagged for a decision, locked for this transaction (others skip them).

    Runs of a paused DAG wait, as in Airflow (backfill runs excepted).
    """
    return list(session.scalars(_runs_to_schedule(limit)))


def lock_runs(session: Session, run_ids: Collection[int]) -> list[int]:
    """Lock these runs for this transaction; the ids of those no one else holds."""
    return _lock_rows(session, DagRun.id, run_ids)


def _lock_rows(session: Session, key: InstrumentedAttribute[_K], keys: Collection[_K]) -> list[_K]:
    """Lock the rows with these keys, in key order (no deadlocks); the keys of those locked."""
    if not keys:
        return []
    return list(
        session.scalars(
            select(key).where(key.in_(list(keys))).order_by(key).with_for_update(skip_locked=True)
        )
    )


_SCHEDULING_DONE = (
    update(DagRun)
    .where(DagRun.id.in_(bindparam("run_ids", expanding=True)))
    .values(needs_scheduling=False)
    .execution_options(synchronize_session=False)
)


def scheduling_done(session: Session, run_ids: Sequence[int]) -> None:
    """Clear the flag of runs just decided (they are locked, so nothing moved meanwhile)."""
    if run_ids:
        session.execute(_SCHEDULING_DONE, {"run_ids": list(run_ids)})


def flag_for_scheduling(session: Session, run_ids: Sequence[int]) -> None:
    """Ask for a new decision on these runs (e.g. a depends_on_past task may now run)."""
    if run_ids:
        session.execute(
            update(DagRun)
            .where(DagRun.id.in_(list(run_ids)), DagRun.needs_scheduling.is_(False))
            .values(needs_scheduling=True)
            .execution_options(synchronize_session=False)
        )


def next_running_run(session: Session, run: DagRun) -> DagRun | None:
    """The DAG's running run just after ``run`` by logical date."""
    return session.scalar(
        select(DagRun)
        .where(
            DagRun.dag_id == run.dag_id,
            DagRun.logical_date > run.logical_date,
            DagRun.state == DagRunState.RUNNING.value,
        )
        .order_by(DagRun.logical_date)
        .limit(1)
    )


# -- backfills ----------------------------------------------------------------------------


def backfill_run_states(session: Session, backfill_id: int) -> list[str]:
    """The states of a backfill's runs."""
    return list(session.scalars(select(DagRun.state).where(DagRun.backfill_id == backfill_id)))


def queued_runs_of_stopped_backfills(session: Session) -> list[DagRun]:
    """Queued runs of cancelled or completed backfills (they will never start)."""
    stopped = select(Backfill.id).where(Backfill.state.in_(("cancelled", "completed")))
    return list(
        session.scalars(
            select(DagRun).where(
                DagRun.state == DagRunState.QUEUED.value, DagRun.backfill_id.in_(stopped)
            )
        )
    )


def adopt_run(session: Session, run_id: int, backfill_id: int) -> None:
    """Count an existing run as a backfill's (it was cleared to run again for it)."""
    session.execute(
        update(DagRun)
        .where(DagRun.id == run_id)
        .values(backfill_id=backfill_id)
        .execution_options(synchronize_session=False)
    )
