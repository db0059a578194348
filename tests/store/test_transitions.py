"""The one state writer: allowed moves happen once, refused moves change nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from sluice.core.errors import TransitionError
from sluice.core.states import DagRunState, TaskInstanceState
from sluice.store import transitions
from sluice.store.engine import Store
from sluice.store.tables import DagRun, TaskInstance

S = TaskInstanceState
WHEN = datetime(2024, 1, 1, tzinfo=UTC)


def _run_with_ti(store: Store) -> int:
    with store.transaction() as session:
        session.add(
            DagRun(dag_id="d", run_id="r", logical_date=WHEN, run_type="manual", state="queued")
        )
        ti = TaskInstance(dag_id="d", run_id="r", task_id="t", max_tries=1)
        session.add(ti)
        session.flush()
        return ti.id


def _state(store: Store, ti_id: int) -> str | None:
    with store.transaction() as session:
        return session.scalar(select(TaskInstance.state).where(TaskInstance.id == ti_id))


def test_a_try_runs_once_even_when_two_runners_race(store: Store) -> None:
    ti_id = _run_with_ti(store)
    with store.transaction() as session:
        assert transitions.mark_scheduled(session, [ti_id]) == [ti_id]
        assert transitions.mark_queued(session, [ti_id], job_id=1) == [ti_id]
    start = transitions.TryStart(try_number=1, hostname="h", pid=1)
    with store.transaction() as session:
        transitions.mark_running(session, ti_id, start)
    with (
        pytest.raises(TransitionError, match="cannot move from running to running"),
        store.transaction() as session,
    ):
        transitions.mark_running(session, ti_id, start)
    assert _state(store, ti_id) == "running"


def test_moves_flag_the_run_for_scheduling_and_keep_aware_utc_times(store: Store) -> None:
    ti_id = _run_with_ti(store)
    with store.transaction() as session:
        session.execute(DagRun.__table__.update().values(needs_scheduling=False))
        transitions.mark_skipped(session, [ti_id])
    with store.transaction() as session:
        run = session.scalars(select(DagRun)).one()
        ti = session.get(TaskInstance, ti_id)
        assert run.needs_scheduling is True
        assert ti is not None and ti.state == "skipped"
        assert ti.end_date is not None and ti.end_date.tzinfo is UTC
        assert run.logical_date == WHEN


def test_a_refused_batch_move_changes_nothing(store: Store) -> None:
    ti_id = _run_with_ti(store)
    with store.transaction() as session:
        assert transitions.mark_queued(session, [ti_id], job_id=1) == []
    assert _state(store, ti_id) is None


def test_run_transitions(store: Store) -> None:
    _run_with_ti(store)
    with store.transaction() as session:
        run = session.scalars(select(DagRun)).one()
        transitions.start_run(session, run)
        transitions.finish_run(session, run, DagRunState.SUCCESS)
        with pytest.raises(TransitionError):
            transitions.start_run(session, run)
