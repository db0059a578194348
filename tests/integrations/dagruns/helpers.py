"""Helpers for the tests of DAGs that look at other DAGs: runs made as the scheduler
makes them, and states moved through the real transitions."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from tests.cli_db.helpers import move_run, move_ti
from tests.runner.conftest import Stored

from sluice.core.states import TaskInstanceState
from sluice.parsing.serialize import deserialize_dag
from sluice.scheduler.runs import create_dag_run
from sluice.store import transitions
from sluice.store.tables import DagRun, SerializedDagRow, TaskTry

__all__ = ["mark", "move_run", "move_ti", "run_states", "scheduled_run", "tries_errors"]


def scheduled_run(
    stored: Stored, dag_id: str, logical_date: datetime, *, interval: timedelta | None = None
) -> str:
    """A scheduled run of a stored DAG at ``logical_date`` (its interval one day long, or
    ``interval``), as the scheduler creates it; returns its run id."""
    with stored.store.transaction() as session:
        row = session.get(SerializedDagRow, dag_id)
        assert row is not None, dag_id
        run = create_dag_run(
            session,
            deserialize_dag(row.data),
            run_type="scheduled",
            logical_date=logical_date,
            data_interval=(logical_date, logical_date + (interval or timedelta(days=1))),
        )
        return run.run_id


def tries_errors(stored: Stored, dag_id: str, task_id: str) -> list[str | None]:
    """The error of each try of a task, oldest first."""
    with stored.store.transaction() as session:
        return list(
            session.scalars(
                select(TaskTry.error)
                .where(TaskTry.dag_id == dag_id, TaskTry.task_id == task_id)
                .order_by(TaskTry.try_number)
            )
        )


def run_states(stored: Stored, dag_id: str) -> dict[str, str]:
    """Run id to state, for one DAG."""
    with stored.store.transaction() as session:
        rows = session.execute(select(DagRun.run_id, DagRun.state).where(DagRun.dag_id == dag_id))
        return {run_id: state for run_id, state in rows}


def mark(
    stored: Stored, dag_id: str, run_id: str, task_id: str, state: str, *, map_index: int = -1
) -> None:
    """Mark an instance success, failed or skipped from whatever state it is in, as a
    person does in the UI."""
    with stored.store.transaction() as session:
        ti = stored.ti_row(session, dag_id, run_id, task_id, map_index)
        transitions.set_state(session, ti, TaskInstanceState(state))
