"""A scheduler over real DAG files: parsed by the DAG processor, run by the real executors.

Every test gets a DAGs folder, settings that point at the ``store`` database (SQLite,
PostgreSQL, MySQL), and helpers to parse files, drive a SchedulerJob pass by pass until a
condition holds, and read what happened from the database.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from sluice.cli.scheduler_cmd import build_executor
from sluice.config import Settings, load_settings
from sluice.processor.options import ProcessorOptions
from sluice.processor.processor import DagProcessor
from sluice.scheduler.loop import SchedulerJob
from sluice.store.engine import Store
from sluice.store.tables import Dag, DagRun, TaskInstance, TaskTry

HEADER = """\
import os, sys, time
from datetime import datetime, timedelta, timezone
from sluice import DAG, task
from sluice.exceptions import FailTask, SkipTask
from sluice.operators import BashOperator, BranchPythonOperator, EmptyOperator, PythonOperator
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
"""

DEFAULTS: dict[tuple[str, str], object] = {
    ("core", "load_examples"): False,
    ("core", "dags_are_paused_at_creation"): False,
    ("core", "parallelism"): 4,
    ("scheduler", "task_heartbeat_interval"): 0.2,
    ("scheduler", "job_heartbeat_interval"): 0.5,
    ("dag_processor", "parsing_processes"): 1,
}


@dataclass
class Harness:
    """A DAGs folder, its settings and database, and a scheduler to drive over them."""

    store: Store
    folder: Path
    tmp: Path
    overrides: dict[tuple[str, str], object]

    @property
    def settings(self) -> Settings:
        """Settings for this test's database and folders (``overrides`` on top)."""
        return load_settings(
            home=self.tmp / "home",
            env={},
            overrides={
                ("database", "sql_alchemy_conn"): self.store.url,
                ("core", "dags_folder"): str(self.folder),
                ("logging", "base_log_folder"): str(self.tmp / "logs"),
                **DEFAULTS,
                **self.overrides,
            },
        )

    def write(self, name: str, source: str) -> Path:
        """Write a DAG file (HEADER first) into the DAGs folder."""
        path = self.folder / name
        path.write_text(HEADER + textwrap.dedent(source))
        return path

    def parse(self) -> None:
        """Store the folder's DAGs as the DAG processor does; fail on an import error."""
        with DagProcessor(ProcessorOptions.from_settings(self.settings), self.store) as proc:
            report = proc.run_once()
        assert not report.errors, report.errors

    def job(self, executor: str = "local") -> SchedulerJob:
        """A scheduler with a real executor running the real task runner."""
        settings = self.settings
        return SchedulerJob(settings, self.store, build_executor(executor, settings, self.store))

    def drive(
        self,
        job: SchedulerJob,
        until: Callable[[], bool],
        *,
        timeout: float = 60.0,
        on_pass: Callable[[], None] | None = None,
    ) -> None:
        """Start ``job``, run passes until ``until()`` holds, then stop it cleanly."""
        job.start()
        try:
            deadline = time.monotonic() + timeout
            while not until():
                assert time.monotonic() < deadline, f"timed out; states: {self.states()}"
                job.step()
                if on_pass is not None:
                    on_pass()
        finally:
            job.shutdown()

    def passes(self, job: SchedulerJob, count: int = 3) -> None:
        """Start ``job``, run ``count`` passes, then stop it cleanly."""
        job.start()
        try:
            for _ in range(count):
                job.step()
        finally:
            job.shutdown()

    def runs(self, dag_id: str) -> list[DagRun]:
        """The DAG's runs, oldest logical date first."""
        with self.store.transaction() as session:
            query = select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.logical_date)
            return list(session.scalars(query))

    def instances(self, dag_id: str, run_id: str | None = None) -> list[TaskInstance]:
        """The DAG's task instances (of one run), by start date then task id."""
        with self.store.transaction() as session:
            query = select(TaskInstance).where(TaskInstance.dag_id == dag_id)
            if run_id is not None:
                query = query.where(TaskInstance.run_id == run_id)
            rows = list(session.scalars(query))
        return sorted(rows, key=lambda ti: (ti.start_date is None, ti.start_date, ti.task_id))

    def states(self, dag_id: str | None = None, run_id: str | None = None) -> dict[str, Any]:
        """Task id (with ``[map index]``) to state; prefixed by ``run id|`` without a run id."""
        with self.store.transaction() as session:
            query = select(TaskInstance)
            if dag_id is not None:
                query = query.where(TaskInstance.dag_id == dag_id)
            if run_id is not None:
                query = query.where(TaskInstance.run_id == run_id)
            found: dict[str, Any] = {}
            for ti in session.scalars(query):
                key = ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else "")
                found[key if run_id is not None else f"{ti.run_id}|{key}"] = ti.state
            return found

    def tries(self, dag_id: str) -> list[TaskTry]:
        """Every try row of the DAG."""
        with self.store.transaction() as session:
            return list(session.scalars(select(TaskTry).where(TaskTry.dag_id == dag_id)))

    def run_finished(self, dag_id: str, count: int = 1) -> Callable[[], bool]:
        """A condition: ``count`` runs of the DAG exist and all have finished."""

        def check() -> bool:
            runs = self.runs(dag_id)
            return len(runs) >= count and all(r.state in ("success", "failed") for r in runs)

        return check

    def set_dag(self, dag_id: str, **values: Any) -> None:
        """Change the DAG's row (e.g. pause it)."""
        with self.store.transaction() as session:
            session.execute(update(Dag).where(Dag.dag_id == dag_id).values(**values))


@pytest.fixture
def harness(store: Store, tmp_path: Path) -> Iterator[Harness]:
    """A harness over an empty DAGs folder and an empty database."""
    folder = tmp_path / "dags"
    folder.mkdir()
    yield Harness(store, folder, tmp_path, {})
