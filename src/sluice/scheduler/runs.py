"""Creating DAG runs and their task instances from a serialized DAG."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.core.errors import StoreError
from sluice.core.states import DagRunState
from sluice.parsing.serialized import SerializedDag
from sluice.store.tables import DagRun, TaskInstance
from sluice.store.transitions import now

RUN_TYPES = ("scheduled", "manual", "backfill")


def make_run_id(run_type: str, logical_date: datetime) -> str:
    """``scheduled__2024-01-01T00:00:00+00:00``, as Airflow names runs."""
    return f"{run_type}__{logical_date.isoformat()}"


def create_dag_run(
    session: Session,
    dag: SerializedDag,
    *,
    run_type: str,
    logical_date: datetime,
    data_interval: tuple[datetime, datetime] | None,
    run_after: datetime | None = None,
    conf: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    backfill_id: int | None = None,
    job_id: int | None = None,
) -> DagRun:
    """A queued run with one task instance per task (one placeholder per mapped task).

    Raises StoreError when the DAG already has a run with this run id or logical date.
    """
    if run_type not in RUN_TYPES:
        raise StoreError(f"unknown run type {run_type!r}; expected one of {', '.join(RUN_TYPES)}")
    run_id = run_id or make_run_id(run_type, logical_date)
    clash = session.scalar(
        select(DagRun.run_id).where(
            DagRun.dag_id == dag.dag_id,
            (DagRun.run_id == run_id) | (DagRun.logical_date == logical_date),
        )
    )
    if clash is not None:
        raise StoreError(
            f"DAG '{dag.dag_id}' already has a run {clash!r} "
            f"(run id {run_id!r}, logical date {logical_date.isoformat()})"
        )
    stamp = now()
    run = DagRun(
        dag_id=dag.dag_id,
        run_id=run_id,
        logical_date=logical_date,
        data_interval_start=data_interval[0] if data_interval else None,
        data_interval_end=data_interval[1] if data_interval else None,
        run_after=run_after or stamp,
        run_type=run_type,
        state=DagRunState.QUEUED.value,
        conf=json.dumps(dict(conf or {})),
        queued_at=stamp,
        backfill_id=backfill_id,
        creating_job_id=job_id,
        needs_scheduling=True,
        updated_at=stamp,
    )
    session.add(run)
    for task in dag.topological_order():
        session.add(
            TaskInstance(
                dag_id=dag.dag_id,
                run_id=run_id,
                task_id=task.task_id,
                map_index=-1,
                state=None,
                try_number=0,
                max_tries=task.retries,
                pool=task.pool,
                pool_slots=task.pool_slots,
                priority_weight=dag.priority_weight_total(task.task_id),
                queue=task.queue,
                operator=task.operator,
                updated_at=stamp,
            )
        )
    session.flush()
    return run
