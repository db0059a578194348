"""Rows for the database commands' tests: stored DAGs, runs, and states moved the real way.

States change only through ``sluice.store.transitions``, here as everywhere.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice import DAG
from sluice.core.states import DagRunState
from sluice.operators import EmptyOperator
from sluice.parsing.serialize import dag_hash, dag_to_json, deserialize_dag
from sluice.parsing.serialized import SerializedDag
from sluice.scheduler.runs import create_dag_run
from sluice.store import transitions
from sluice.store.engine import Store
from sluice.store.tables import AuditLog, Dag, DagRun, SerializedDagRow, TaskInstance

START = datetime(2024, 1, 1, tzinfo=UTC)


def chain_dag(
    dag_id: str = "etl",
    *,
    schedule: Any = "@daily",
    start: datetime | None = START,
    catchup: bool = False,
    retries: int = 0,
    **kwargs: Any,
) -> DAG:
    """extract >> transform >> load."""
    with DAG(
        dag_id,
        start_date=start,
        schedule=schedule,
        catchup=catchup,
        default_args={"retries": retries},
        **kwargs,
    ) as dag:
        extract = EmptyOperator(task_id="extract")
        transform = EmptyOperator(task_id="transform")
        load = EmptyOperator(task_id="load")
        extract >> transform >> load
    return dag


def add_dag(
    store: Store,
    dag: DAG,
    *,
    paused: bool = False,
    active: bool = True,
    next_dagrun: datetime | None = None,
    fileloc: str | None = None,
) -> SerializedDag:
    """Store the DAG as the DAG processor would: its dag and serialized_dag rows."""
    text = dag_to_json(dag)
    serialized = deserialize_dag(text)
    stamp = datetime.now(UTC)
    with store.transaction() as session:
        session.add(
            Dag(
                dag_id=dag.dag_id,
                fileloc=fileloc or dag.fileloc,
                is_paused=paused,
                is_active=active,
                schedule=serialized.schedule_summary,
                max_active_runs=serialized.max_active_runs,
                max_active_tasks=serialized.max_active_tasks,
                next_dagrun=next_dagrun,
                last_parsed_at=stamp,
            )
        )
        session.flush()
        session.add(
            SerializedDagRow(
                dag_id=dag.dag_id,
                fileloc=fileloc or dag.fileloc,
                data=text,
                dag_hash=dag_hash(text),
                updated_at=stamp,
            )
        )
    return serialized


def add_run(
    store: Store,
    dag: SerializedDag,
    logical_date: datetime,
    *,
    run_type: str = "scheduled",
    run_id: str | None = None,
    backfill_id: int | None = None,
) -> str:
    """A queued run of ``dag`` covering one day from ``logical_date``; returns its run id."""
    with store.transaction() as session:
        run = create_dag_run(
            session,
            dag,
            run_type=run_type,
            logical_date=logical_date,
            data_interval=(logical_date, logical_date + timedelta(days=1)),
            run_id=run_id,
            backfill_id=backfill_id,
        )
        return run.run_id


def _ti(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int) -> TaskInstance:
    return session.scalars(
        select(TaskInstance).where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == task_id,
            TaskInstance.map_index == map_index,
        )
    ).one()


def move_ti(
    store: Store, dag_id: str, run_id: str, task_id: str, to: str, *, map_index: int = -1
) -> None:
    """Drive one task instance from no state to ``to`` through the real transitions."""
    path = {
        "scheduled": ["scheduled"],
        "queued": ["scheduled", "queued"],
        "running": ["scheduled", "queued", "running"],
        "success": ["scheduled", "queued", "running", "success"],
        "failed": ["scheduled", "queued", "running", "failed"],
        "up_for_retry": ["scheduled", "queued", "running", "up_for_retry"],
        "skipped": ["skipped"],
        "upstream_failed": ["upstream_failed"],
    }[to]
    for step in path:
        with store.transaction() as session:
            ti = _ti(session, dag_id, run_id, task_id, map_index)
            if step == "scheduled":
                assert transitions.mark_scheduled(session, [ti.id])
            elif step == "queued":
                assert transitions.mark_queued(session, [ti.id], job_id=None)
            elif step == "running":
                start = transitions.TryStart(ti.try_number + 1, "worker-1", 4242)
                transitions.mark_running(session, ti.id, start)
            elif step == "success":
                transitions.mark_success(session, ti)
            elif step == "failed":
                transitions.mark_failed(session, ti)
            elif step == "up_for_retry":
                later = datetime.now(UTC) + timedelta(hours=1)
                transitions.schedule_retry(session, ti, next_try_at=later)
            elif step == "skipped":
                assert transitions.mark_skipped(session, [ti.id])
            else:
                assert transitions.mark_upstream_failed(session, [ti.id])


def move_run(store: Store, dag_id: str, run_id: str, to: str) -> None:
    """Start a queued run, and finish it as ``to`` unless ``to`` is running."""
    with store.transaction() as session:
        run = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        ).one()
        if run.state == DagRunState.QUEUED.value:
            transitions.start_run(session, run)
        if to != DagRunState.RUNNING.value:
            transitions.finish_run(session, run, DagRunState(to))


def finish(store: Store, dag_id: str, run_id: str, state: str = "success") -> None:
    """Every task instance of the run to ``state``, and the run finished the same way."""
    for task_id in ("extract", "transform", "load"):
        move_ti(store, dag_id, run_id, task_id, state)
    move_run(store, dag_id, run_id, state)


def ti_states(store: Store, dag_id: str, run_id: str) -> dict[str, str | None]:
    """Task id to state, for one run."""
    with store.transaction() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.state).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        )
        return {task_id: state for task_id, state in rows}


def run_state(store: Store, dag_id: str, run_id: str) -> str:
    """The state of one run."""
    with store.transaction() as session:
        return str(
            session.scalars(
                select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
            ).one()
        )


def audit_events(store: Store) -> list[tuple[str, str | None]]:
    """(event, dag_id) of every audit row, oldest first."""
    with store.transaction() as session:
        rows = session.execute(select(AuditLog.event, AuditLog.dag_id).order_by(AuditLog.id))
        return [(event, dag_id) for event, dag_id in rows]


def ok(result: Result) -> Result:
    """Assert the command succeeded and return it."""
    assert result.exit_code == 0, result.output
    return result


def as_json(result: Result) -> Any:
    """The command's stdout as JSON, once it succeeded."""
    return json.loads(ok(result).stdout)


def error_line(result: Result) -> str:
    """The one ``Error:`` line of a refused command (exit 1, nothing on stdout)."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]
