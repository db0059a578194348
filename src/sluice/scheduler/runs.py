"""Creating DAG runs and their task instances: by hand, and when a data interval ends."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.core.errors import ScheduleError, StoreError
from sluice.core.states import DagRunState
from sluice.parsing.serialized import SerializedDag
from sluice.scheduler.serialized_dags import SerializedDagCache
from sluice.sdk.schedules import DagRunInfo, DataInterval
from sluice.store.dag_runs import active_runs, due_dags, has_run_at
from sluice.store.dags import NextRun, set_next_runs
from sluice.store.tables import DagRun, TaskInstance
from sluice.store.transitions import now

log = logging.getLogger("sluice.scheduler")

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


# -- scheduled runs ----------------------------------------------------------------------


def next_run_info(
    dag: SerializedDag, last: DataInterval | None, now: datetime
) -> DagRunInfo | None:
    """The DAG's automated run after the one covering ``last`` (None: no more runs)."""
    try:
        return dag.next_dagrun_info(last, now)
    except ScheduleError as exc:
        # A date beyond what datetime holds: the schedule simply has no more runs.
        log.warning("DAG '%s' has no next run: %s", dag.dag_id, exc)
        return None


def as_next_run(info: DagRunInfo | None) -> NextRun:
    """The dag row's next-run fields for ``info`` (all None: no more runs)."""
    if info is None:
        return NextRun()
    return NextRun(
        logical_date=info.logical_date,
        data_interval_start=info.data_interval.start,
        data_interval_end=info.data_interval.end,
        create_after=info.run_after,
    )


def max_active_runs(dag: SerializedDag) -> int:
    """The DAG's max_active_runs, capped by its schedule (1 for ``@continuous``)."""
    cap = dag.timetable.active_runs_limit
    return min(dag.max_active_runs, cap) if cap is not None else dag.max_active_runs


def create_due_runs(
    session: Session, dags: SerializedDagCache, now: datetime, *, job_id: int | None
) -> list[DagRun]:
    """Create the scheduled runs whose data interval has ended, oldest first.

    Each DAG gets runs while its next run is due and its queued and running runs are
    under max_active_runs (so catchup fills the missed intervals a few at a time); the
    DAG row's next-run fields then move to the following interval.
    """
    created: list[DagRun] = []
    due = due_dags(session, now)
    serialized = dags.get_many(session, [row.dag_id for row in due])
    for row in due:
        dag = serialized.get(row.dag_id)
        if dag is None or row.next_dagrun is None or row.next_dagrun_create_after is None:
            continue
        room = max_active_runs(dag) - active_runs(session, row.dag_id)
        if room <= 0:
            continue
        interval = DataInterval(
            row.next_dagrun_data_interval_start or row.next_dagrun,
            row.next_dagrun_data_interval_end or row.next_dagrun,
        )
        info: DagRunInfo | None = DagRunInfo(row.next_dagrun_create_after, interval)
        while info is not None and info.run_after <= now and room > 0:
            # A manual or backfill run may already cover this date: never a second one.
            if not has_run_at(session, row.dag_id, info.logical_date):
                created.append(
                    create_dag_run(
                        session,
                        dag,
                        run_type="scheduled",
                        logical_date=info.logical_date,
                        data_interval=(info.data_interval.start, info.data_interval.end),
                        run_after=info.run_after,
                        job_id=job_id,
                    )
                )
                room -= 1
            info = next_run_info(dag, info.data_interval, now)
        set_next_runs(session, {row.dag_id: as_next_run(info)})
    return created
