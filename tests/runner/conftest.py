"""Stored DAG runs for the task runner's tests: real DAG files, rows written as the DAG
processor and the scheduler would, and a runner call that goes through the database."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sluice.config import Settings, load_settings
from sluice.core.messages import TaskInstanceKey, TaskWorkload
from sluice.core.states import TaskInstanceState
from sluice.parsing.importer import import_dag_file
from sluice.parsing.serialize import dag_hash, dag_to_json, deserialize_dag
from sluice.runner.dag_cache import DagCache
from sluice.runner.task_runner import run_task_workload
from sluice.scheduler.runs import create_dag_run
from sluice.store import transitions
from sluice.store.engine import Store
from sluice.store.tables import Dag, SerializedDagRow, TaskInstance, TaskTry
from sluice.store.task_tries import next_try_number

LOGICAL_DATE = datetime(2024, 3, 15, tzinfo=UTC)
HEADER = """\
import os, subprocess, sys, time, logging
from datetime import datetime, timedelta
from sluice import DAG, task
from sluice.exceptions import FailTask, SkipTask
from sluice.operators import BashOperator, BranchPythonOperator, EmptyOperator, PythonOperator
from sluice.sensors import BaseSensorOperator, PokeReturnValue, PythonSensor
"""


@dataclass
class Stored:
    """A DAGs folder whose DAGs are in the database, and a runner over them."""

    store: Store
    settings: Settings
    folder: Path
    dags: DagCache

    def write(self, name: str, source: str) -> Path:
        """Write a DAG file (after HEADER) and store its DAGs as the DAG processor would."""
        path = self.folder / name
        path.write_text(HEADER + textwrap.dedent(source))
        cache = DagCache()
        stamp = datetime.now(UTC)
        with self.store.transaction() as session:
            for dag_id in _dag_ids(path):
                dag = cache.get_dag(str(path), dag_id)
                data = dag_to_json(dag)
                session.merge(Dag(dag_id=dag_id, fileloc=str(path), is_paused=False))
                session.merge(
                    SerializedDagRow(
                        dag_id=dag_id,
                        fileloc=str(path),
                        data=data,
                        dag_hash=dag_hash(data),
                        updated_at=stamp,
                    )
                )
        return path

    def trigger(
        self, dag_id: str, *, conf: Mapping[str, Any] | None = None, when: datetime = LOGICAL_DATE
    ) -> str:
        """A manual run of a stored DAG; returns its run id."""
        with self.store.transaction() as session:
            data = session.get(SerializedDagRow, dag_id)
            assert data is not None
            dag = deserialize_dag(data.data)
            run = create_dag_run(
                session,
                dag,
                run_type="manual",
                logical_date=when,
                data_interval=(when, when),
                conf=conf,
            )
            return run.run_id

    def expand(self, dag_id: str, run_id: str, task_id: str, count: int) -> None:
        """Give a mapped task ``count`` instances, as the scheduler does when it expands it."""
        with self.store.transaction() as session:
            placeholder = self.ti_row(session, dag_id, run_id, task_id)
            for index in range(count):
                session.add(
                    TaskInstance(
                        dag_id=dag_id,
                        run_id=run_id,
                        task_id=task_id,
                        map_index=index,
                        max_tries=placeholder.max_tries,
                    )
                )
            transitions.mark_removed(session, [placeholder.id])

    def queue(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> TaskWorkload:
        """Queue the instance as the scheduler does, and make its workload."""
        with self.store.transaction() as session:
            ti = self.ti_row(session, dag_id, run_id, task_id, map_index)
            state = TaskInstanceState(ti.state) if ti.state else None
            if state is not TaskInstanceState.QUEUED:
                assert transitions.mark_scheduled(session, [ti.id]) == [ti.id]
                assert transitions.mark_queued(session, [ti.id], job_id=None) == [ti.id]
            fileloc = session.get(Dag, dag_id).fileloc  # type: ignore[union-attr]
            return TaskWorkload(
                key=TaskInstanceKey(dag_id, run_id, task_id, map_index),
                try_number=next_try_number(state, ti.try_number),
                dag_file=fileloc,
            )

    def run(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> int:
        """Queue the instance and run one try of it in this process."""
        workload = self.queue(dag_id, run_id, task_id, map_index)
        return self.run_workload(workload)

    def run_workload(self, workload: TaskWorkload) -> int:
        """Run a workload in this process, as a worker's child does."""
        return run_task_workload(workload, settings=self.settings, store=self.store, dags=self.dags)

    def ti(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> TaskInstance:
        """The instance's row, read now."""
        with self.store.transaction() as session:
            return self.ti_row(session, dag_id, run_id, task_id, map_index)

    def tries(self, dag_id: str, task_id: str) -> list[TaskTry]:
        """The task's try rows, by map index then try number."""
        with self.store.transaction() as session:
            query = (
                select(TaskTry)
                .where(TaskTry.dag_id == dag_id, TaskTry.task_id == task_id)
                .order_by(TaskTry.map_index, TaskTry.try_number)
            )
            return list(session.scalars(query))

    @staticmethod
    def ti_row(
        session: Any, dag_id: str, run_id: str, task_id: str, map_index: int = -1
    ) -> TaskInstance:
        """The instance's row in ``session``."""
        ti = session.scalar(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
                TaskInstance.map_index == map_index,
            )
        )
        assert ti is not None, (dag_id, run_id, task_id, map_index)
        return ti  # type: ignore[no-any-return]


def _dag_ids(path: Path) -> list[str]:
    dags, error, _ = import_dag_file(path)
    assert error is None, error
    return [dag.dag_id for dag in dags]


@pytest.fixture
def stored(store: Store, tmp_path: Path) -> Iterator[Stored]:
    """An empty DAGs folder, settings whose logs go to ``tmp_path/logs``, and the store."""
    folder = tmp_path / "dags"
    folder.mkdir()
    settings = load_settings(
        home=tmp_path / "home",
        env={},
        overrides={
            ("database", "sql_alchemy_conn"): store.url,
            ("logging", "base_log_folder"): str(tmp_path / "logs"),
            ("scheduler", "task_heartbeat_interval"): 0.1,
            ("core", "load_examples"): False,
        },
    )
    yield Stored(store, settings, folder, DagCache.from_settings(settings))
