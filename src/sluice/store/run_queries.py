"""Reads of DAGs, DAG runs and task instances that people ask for (CLI, later the UI).

The scheduler has its own queries (``dag_runs``, ``task_instances``); these answer
"what is there and in which state", with errors that name what exists when an id is
mistyped.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sluice.core.errors import DagNotFound, SluiceError
from sluice.core.states import TaskInstanceState
from sluice.core.suggestions import unknown_id_message
from sluice.store.tables import Dag, DagRun, Pool, SerializedDagRow, TaskInstance

S = TaskInstanceState

OCCUPYING_STATES = (S.QUEUED.value, S.RUNNING.value)
"""Instances in these states hold their pool slots and count against concurrency limits."""


class DagRunNotFound(SluiceError):
    """Raised when a DAG has no run with the given run id."""


class TaskInstanceNotFound(SluiceError):
    """Raised when a run has no instance of the given task (or map index)."""


def get_dag(session: Session, dag_id: str) -> Dag:
    """The DAG's row; DagNotFound names close ids (or says how DAGs get there)."""
    dag = session.get(Dag, dag_id)
    if dag is None:
        known = list(session.scalars(select(Dag.dag_id)))
        if not known:
            raise DagNotFound(
                f"DAG '{dag_id}' not found: the database holds no DAGs yet. The DAG processor"
                " stores them there: run `sluice dag-processor --once` or `sluice standalone`"
            )
        raise DagNotFound(unknown_id_message("DAG", dag_id, known, " in the database"))
    return dag


def get_serialized(session: Session, dag_id: str) -> SerializedDagRow:
    """The DAG's serialized row; DagNotFound when the DAG was never parsed into it."""
    row = session.get(SerializedDagRow, dag_id)
    if row is None:
        get_dag(session, dag_id)
        raise DagNotFound(
            f"DAG '{dag_id}' has no serialized form in the database (its file failed to"
            " import?); see `sluice dags list-import-errors`"
        )
    return row


def list_runs(session: Session, dag_id: str, *, state: str | None = None) -> list[DagRun]:
    """The DAG's runs, newest logical date first, optionally in one state."""
    query = select(DagRun).where(DagRun.dag_id == dag_id)
    if state is not None:
        query = query.where(DagRun.state == state)
    return list(session.scalars(query.order_by(DagRun.logical_date.desc())))


def get_run(session: Session, dag_id: str, run_id: str) -> DagRun:
    """One run; DagRunNotFound names close run ids."""
    run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if run is None:
        get_dag(session, dag_id)
        known = session.scalars(select(DagRun.run_id).where(DagRun.dag_id == dag_id))
        raise DagRunNotFound(unknown_id_message("Run", run_id, known, f" in DAG '{dag_id}'"))
    return run


def find_clash(session: Session, dag_id: str, run_id: str, logical_date: datetime) -> DagRun | None:
    """An existing run of the DAG with this run id or this logical date."""
    return session.scalar(
        select(DagRun)
        .where(
            DagRun.dag_id == dag_id,
            (DagRun.run_id == run_id) | (DagRun.logical_date == logical_date),
        )
        .limit(1)
    )


def runs_between(session: Session, dag_id: str, start: datetime, end: datetime) -> list[DagRun]:
    """The DAG's runs whose logical date is in [start, end], oldest first."""
    return list(
        session.scalars(
            select(DagRun)
            .where(
                DagRun.dag_id == dag_id,
                DagRun.logical_date >= start,
                DagRun.logical_date <= end,
            )
            .order_by(DagRun.logical_date)
        )
    )


def latest_automated_run(session: Session, dag_id: str) -> DagRun | None:
    """The DAG's scheduled or backfill run with the latest logical date."""
    return session.scalar(
        select(DagRun)
        .where(DagRun.dag_id == dag_id, DagRun.run_type.in_(("scheduled", "backfill")))
        .order_by(DagRun.logical_date.desc())
        .limit(1)
    )


def previous_run(session: Session, run: DagRun) -> DagRun | None:
    """The run of the same DAG just before ``run`` by logical date (depends_on_past's)."""
    return session.scalar(
        select(DagRun)
        .where(DagRun.dag_id == run.dag_id, DagRun.logical_date < run.logical_date)
        .order_by(DagRun.logical_date.desc())
        .limit(1)
    )


def run_task_instances(session: Session, dag_id: str, run_id: str) -> list[TaskInstance]:
    """Every task instance of a run, by task id and map index."""
    return list(
        session.scalars(
            select(TaskInstance)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            .order_by(TaskInstance.task_id, TaskInstance.map_index)
        )
    )


def get_task_instance(
    session: Session, run: DagRun, task_id: str, map_index: int | None
) -> TaskInstance:
    """One instance of a run; without a map index, the task's only instance.

    TaskInstanceNotFound names close task ids, or the map indexes of a mapped task.
    """
    instances = run_task_instances(session, run.dag_id, run.run_id)
    rows = [ti for ti in instances if ti.task_id == task_id]
    where = f" in run '{run.run_id}' of DAG '{run.dag_id}'"
    if not rows:
        known = {ti.task_id for ti in instances}
        raise TaskInstanceNotFound(unknown_id_message("Task", task_id, known, where))
    if map_index is None:
        if len(rows) == 1:
            return rows[0]
        indexes = ", ".join(str(ti.map_index) for ti in rows)
        raise TaskInstanceNotFound(
            f"Task '{task_id}' is mapped: {len(rows)} instances{where}; give --map-index"
            f" (one of {indexes})"
        )
    for ti in rows:
        if ti.map_index == map_index:
            return ti
    indexes = ", ".join(str(ti.map_index) for ti in rows)
    raise TaskInstanceNotFound(
        f"Task '{task_id}' has no map index {map_index}{where}; its map indexes are {indexes}"
    )


def instances_to_clear(
    session: Session,
    dag_id: str,
    task_ids: Collection[str],
    *,
    states: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    run_id: str | None = None,
) -> list[tuple[TaskInstance, DagRun]]:
    """Instances of these tasks (in these states, in runs with a logical date in
    [start, end], or in the run ``run_id``), with their run, oldest run first."""
    query = (
        select(TaskInstance, DagRun)
        .join(
            DagRun,
            (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id),
        )
        .where(TaskInstance.dag_id == dag_id, TaskInstance.task_id.in_(list(task_ids)))
    )
    if states is not None:
        query = query.where(TaskInstance.state.in_(list(states)))
    if start is not None:
        query = query.where(DagRun.logical_date >= start)
    if end is not None:
        query = query.where(DagRun.logical_date <= end)
    if run_id is not None:
        query = query.where(DagRun.run_id == run_id)
    query = query.order_by(DagRun.logical_date, TaskInstance.task_id, TaskInstance.map_index)
    return [(ti, run) for ti, run in session.execute(query)]


def state_counts(session: Session, dag_id: str, run_id: str) -> dict[str, int]:
    """How many instances of a run are in each state (``none`` for no state yet)."""
    rows = session.execute(
        select(TaskInstance.state, func.count())
        .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        .group_by(TaskInstance.state)
    )
    return {state or "none": count for state, count in rows}


def pool_usage(session: Session, pool: str) -> tuple[int | None, int]:
    """A pool's slots (None when the pool does not exist) and the slots in use."""
    slots = session.scalar(select(Pool.slots).where(Pool.pool == pool))
    used = session.scalar(
        select(func.coalesce(func.sum(TaskInstance.pool_slots), 0)).where(
            TaskInstance.pool == pool, TaskInstance.state.in_(OCCUPYING_STATES)
        )
    )
    return slots, int(used or 0)


def active_instances(session: Session, dag_id: str, task_id: str | None = None) -> int:
    """Queued and running instances of a DAG (of one of its tasks), across its runs."""
    query = select(func.count()).where(
        TaskInstance.dag_id == dag_id, TaskInstance.state.in_(OCCUPYING_STATES)
    )
    if task_id is not None:
        query = query.where(TaskInstance.task_id == task_id)
    return int(session.scalar(query) or 0)


def running_runs(session: Session, dag_id: str, backfill_id: int | None = None) -> int:
    """The DAG's running runs outside backfills (what its max_active_runs bounds), or those
    of one backfill (what the backfill's max_active_runs bounds)."""
    query = select(func.count()).where(DagRun.dag_id == dag_id, DagRun.state == "running")
    if backfill_id is None:
        query = query.where(DagRun.backfill_id.is_(None))
    else:
        query = query.where(DagRun.backfill_id == backfill_id)
    return int(session.scalar(query) or 0)
