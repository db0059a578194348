"""Rows for the task instance tests: two DAGs, runs in known states, tries with log files
and XCom values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from tests.cli_db.helpers import START, add_dag, add_run, chain_dag, move_run, move_ti
from tests.web.conftest import Web

from sluice import DAG, task
from sluice.core.xcom_codec import encode_xcom
from sluice.store.engine import Store
from sluice.store.tables import DagRun, TaskInstance, TaskTry, XCom
from sluice.store.task_instances import expand_placeholder

DAY1 = START
DAY2 = START + timedelta(days=1)


@dataclass(frozen=True)
class Seeded:
    """What ``seed`` made: the run ids of DAG ``etl`` and of DAG ``mapped``."""

    good: str
    """etl run of DAY1: every task success, run success."""
    bad: str
    """etl run of DAY2: extract success, transform failed, load upstream_failed; run failed."""
    mapped: str
    """mapped run of DAY1: ``double`` expanded into map indexes 0, 1, 2 (state none)."""


def mapped_dag() -> DAG:
    """numbers >> double.expand(...)."""
    with DAG("mapped", start_date=START, schedule="@daily") as dag:

        @task
        def numbers() -> list[int]:
            return [1, 2, 3]

        @task
        def double(x: int) -> int:
            return 2 * x

        double.expand(x=numbers())
    return dag


def seed(web: Web) -> Seeded:
    """Both DAGs, their runs and their states (see Seeded)."""
    store = web.store
    etl = add_dag(store, chain_dag("etl", retries=1))
    good = add_run(store, etl, DAY1)
    for task_id in ("extract", "transform", "load"):
        move_ti(store, "etl", good, task_id, "success")
    move_run(store, "etl", good, "success")
    bad = add_run(store, etl, DAY2)
    move_ti(store, "etl", bad, "extract", "success")
    move_ti(store, "etl", bad, "transform", "failed")
    move_ti(store, "etl", bad, "load", "upstream_failed")
    move_run(store, "etl", bad, "failed")
    mapped = add_run(store, add_dag(store, mapped_dag()), DAY1)
    with store.transaction() as session:
        placeholder = session.scalars(
            select(TaskInstance.id).where(
                TaskInstance.dag_id == "mapped", TaskInstance.task_id == "double"
            )
        ).one()
        expand_placeholder(session, placeholder, 3)
    return Seeded(good=good, bad=bad, mapped=mapped)


def add_try(
    store: Store,
    dag_id: str,
    run_id: str,
    task_id: str,
    try_number: int,
    *,
    state: str = "success",
    log_path: str | None = None,
    map_index: int = -1,
    error: str | None = None,
) -> None:
    """A task_try row, as the runner writes it (with ``log_path`` as given)."""
    start = datetime(2024, 1, 2, 6, tzinfo=UTC)
    with store.transaction() as session:
        session.add(
            TaskTry(
                dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index,
                try_number=try_number, state=state, start_date=start,
                end_date=None if state == "running" else start + timedelta(seconds=3),
                duration=None if state == "running" else 3.0, hostname="worker-1", pid=4242,
                exit_code=None if state == "running" else (0 if state == "success" else 1),
                log_path=log_path, error=error,
            )
        )  # fmt: skip


def set_log_path(store: Store, dag_id: str, task_id: str, log_path: str) -> None:
    """Point every try of a task at ``log_path`` (what a tampered row would hold)."""
    with store.transaction() as session:
        session.execute(
            update(TaskTry)
            .where(TaskTry.dag_id == dag_id, TaskTry.task_id == task_id)
            .values(log_path=log_path)
        )


def write_log(web: Web, relative: str, text: str) -> Path:
    """A log file under the logs folder; returns its absolute path."""
    path = web.settings.base_log_folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def add_xcom(store: Store, dag_id: str, run_id: str, task_id: str, key: str, value: object) -> None:
    """An XCom value pushed by an instance (map index -1)."""
    with store.transaction() as session:
        run = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        ).one()
        session.add(
            XCom(
                dag_run_id=run.id, task_id=task_id, map_index=-1, key=key, dag_id=dag_id,
                run_id=run_id, value=encode_xcom(value, where="test"),
                timestamp=datetime.now(UTC),
            )
        )  # fmt: skip


def ti_state(store: Store, dag_id: str, run_id: str, task_id: str) -> str | None:
    """The state of one (unmapped) instance."""
    with store.transaction() as session:
        return session.scalars(
            select(TaskInstance.state).where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
            )
        ).one()
