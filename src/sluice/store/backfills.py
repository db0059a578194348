"""Backfill requests: a row per backfill that the scheduler carries out run by run.

The command line writes the request and goes away; the scheduler reads the running
backfills, creates their ``backfill__`` runs (at most ``max_active_runs`` at a time,
never a second run for a logical date) and calls ``complete_backfill`` when every run
has finished. So a backfill survives the CLI exiting and a scheduler restart.

A backfill moves running <-> paused, and from either to cancelled; the scheduler moves
a running one to completed. Each move is a compare-and-set, as the state writer's are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sluice.core.errors import SluiceError, StoreError, TransitionError
from sluice.core.states import DagRunState
from sluice.store import transitions
from sluice.store.tables import Backfill, DagRun

RUNNING = "running"
PAUSED = "paused"
CANCELLED = "cancelled"
COMPLETED = "completed"
BACKFILL_STATES = (RUNNING, PAUSED, CANCELLED, COMPLETED)
ACTIVE_STATES = (RUNNING, PAUSED)
"""A DAG has at most one backfill in these states."""


class BackfillNotFound(SluiceError):
    """Raised when no backfill has the given id."""


def create_backfill(
    session: Session,
    *,
    dag_id: str,
    from_date: datetime,
    to_date: datetime,
    reset_dagruns: bool = False,
    rerun_failed_tasks: bool = False,
    max_active_runs: int = 10,
    conf: Mapping[str, Any] | None = None,
) -> Backfill:
    """A running backfill; refused while the DAG has another one running or paused."""
    if to_date < from_date:
        raise StoreError(
            f"a backfill's end {to_date.isoformat()} is before its start {from_date.isoformat()}"
        )
    if max_active_runs < 1:
        raise StoreError(f"max_active_runs must be at least 1, not {max_active_runs}")
    current = active_backfill(session, dag_id)
    if current is not None:
        raise StoreError(
            f"DAG '{dag_id}' already has backfill {current.id} ({current.state}); a DAG has one"
            f" backfill at a time: cancel it with `sluice backfills cancel {current.id}`"
            " or wait for it to complete"
        )
    backfill = Backfill(
        dag_id=dag_id,
        from_date=from_date,
        to_date=to_date,
        reset_dagruns=reset_dagruns,
        rerun_failed_tasks=rerun_failed_tasks,
        max_active_runs=max_active_runs,
        conf=json.dumps(dict(conf or {})),
        state=RUNNING,
        created_at=transitions.now(),
    )
    session.add(backfill)
    session.flush()
    return backfill


def get_backfill(session: Session, backfill_id: int) -> Backfill:
    """One backfill; BackfillNotFound when the id is unknown."""
    backfill = session.get(Backfill, backfill_id)
    if backfill is None:
        recent = session.scalars(select(Backfill.id).order_by(Backfill.id.desc()).limit(10))
        known = ", ".join(str(i) for i in recent)
        hint = f"; recent ones: {known}" if known else "; there are none"
        raise BackfillNotFound(f"Backfill {backfill_id} not found{hint}")
    return backfill


def list_backfills(session: Session, dag_id: str | None = None) -> list[Backfill]:
    """Backfills, newest first, optionally of one DAG."""
    query = select(Backfill).order_by(Backfill.id.desc())
    if dag_id is not None:
        query = query.where(Backfill.dag_id == dag_id)
    return list(session.scalars(query))


def active_backfill(session: Session, dag_id: str) -> Backfill | None:
    """The DAG's running or paused backfill, if any."""
    return session.scalar(
        select(Backfill)
        .where(Backfill.dag_id == dag_id, Backfill.state.in_(ACTIVE_STATES))
        .order_by(Backfill.id.desc())
        .limit(1)
    )


def running_backfills(session: Session) -> list[Backfill]:
    """Backfills the scheduler should carry on with, oldest first."""
    return list(
        session.scalars(select(Backfill).where(Backfill.state == RUNNING).order_by(Backfill.id))
    )


def _move(
    session: Session,
    backfill_id: int,
    to: str,
    only_from: Sequence[str],
    verb: str,
    **values: object,
) -> Backfill:
    backfill = get_backfill(session, backfill_id)
    result = session.execute(
        update(Backfill)
        .where(Backfill.id == backfill_id, Backfill.state.in_(list(only_from)))
        .values(state=to, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(backfill)
        allowed = " or ".join(only_from)
        raise TransitionError(
            f"backfill {backfill_id} is {backfill.state}; only a {allowed} backfill can be {verb}"
        )
    session.refresh(backfill)
    return backfill


def pause_backfill(session: Session, backfill_id: int) -> Backfill:
    """Stop creating runs for a backfill; its runs already created go on."""
    return _move(session, backfill_id, PAUSED, [RUNNING], "paused")


def unpause_backfill(session: Session, backfill_id: int) -> Backfill:
    """Carry on with a paused backfill."""
    return _move(session, backfill_id, RUNNING, [PAUSED], "unpaused")


def cancel_backfill(session: Session, backfill_id: int) -> tuple[Backfill, int]:
    """Stop a backfill for good: its queued runs fail, running ones finish.

    Returns the backfill and how many queued runs were failed, as Airflow's cancel does.
    """
    backfill = _move(
        session,
        backfill_id,
        CANCELLED,
        ACTIVE_STATES,
        "cancelled",
        completed_at=transitions.now(),
    )
    queued = session.scalars(
        select(DagRun).where(
            DagRun.backfill_id == backfill_id, DagRun.state == DagRunState.QUEUED.value
        )
    )
    failed = 0
    for run in queued:
        try:
            transitions.finish_run(session, run, DagRunState.FAILED)
            failed += 1
        except TransitionError:
            continue  # A scheduler started it meanwhile: it finishes on its own.
    return backfill, failed


def complete_backfill(session: Session, backfill_id: int) -> bool:
    """The scheduler's report that every run of a running backfill finished."""
    result = session.execute(
        update(Backfill)
        .where(Backfill.id == backfill_id, Backfill.state == RUNNING)
        .values(state=COMPLETED, completed_at=transitions.now())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def run_states(session: Session, backfill_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """For each backfill, how many of its runs are in each state."""
    counts: dict[int, dict[str, int]] = {backfill_id: {} for backfill_id in backfill_ids}
    if not backfill_ids:
        return counts
    rows = session.execute(
        select(DagRun.backfill_id, DagRun.state, func.count())
        .where(DagRun.backfill_id.in_(list(backfill_ids)))
        .group_by(DagRun.backfill_id, DagRun.state)
    )
    for backfill_id, state, count in rows:
        if backfill_id is not None:
            counts[backfill_id][state] = count
    return counts
