"""The scheduler's reads of task instances: what to decide, what to queue, what was lost.

None of these writes a state (``sluice.store.transitions`` does); the only writes here
add instance rows in state None, as creating a run does: instances of tasks added to a
DAG after its run started, and the instances a mapped task expands into.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from sluice.core.states import DagRunState, TaskInstanceState
from sluice.store import jobs
from sluice.store.dag_runs import not_paused
from sluice.store.tables import Dag, DagRun, Job, Pool, TaskInstance

S = TaskInstanceState

OCCUPYING = (S.QUEUED.value, S.RUNNING.value)
"""Instances in these states hold pool slots and count against concurrency limits."""
WAITING_TO_RETRY = (S.UP_FOR_RETRY.value, S.UP_FOR_RESCHEDULE.value)

_TI = cast(Table, TaskInstance.__table__)


@dataclass(frozen=True)
class InstanceRow:
    """What deciding a run needs of one task instance (lighter than the ORM row)."""

    id: int
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None


_RUN_INSTANCES = (
    select(_TI.c.id, _TI.c.dag_id, _TI.c.run_id, _TI.c.task_id, _TI.c.map_index, _TI.c.state)
    .where(
        _TI.c.dag_id == bindparam("dag_id"), _TI.c.run_id.in_(bindparam("run_ids", expanding=True))
    )
    .order_by(_TI.c.id)
)
"""Built once (the scheduler runs it on every pass), with bound parameters; Core, as the
other statements of the scheduler's pass, which cost less to run than ORM ones."""


def run_instances(session: Session, run_keys: Collection[tuple[str, str]]) -> list[InstanceRow]:
    """Every task instance of these (dag_id, run_id) runs, in one query per DAG."""
    by_dag: dict[str, list[str]] = {}
    for dag_id, run_id in run_keys:
        by_dag.setdefault(dag_id, []).append(run_id)
    found: list[InstanceRow] = []
    for dag_id, run_ids in by_dag.items():
        rows = session.execute(_RUN_INSTANCES, {"dag_id": dag_id, "run_ids": run_ids})
        found.extend(InstanceRow(*row) for row in rows)
    return found


def add_instances(session: Session, run: DagRun, rows: Iterable[TaskInstance]) -> list[InstanceRow]:
    """Add instances (state None) to a run: tasks added to the DAG after the run began."""
    added = list(rows)
    for row in added:
        row.dag_id, row.run_id, row.state = run.dag_id, run.run_id, None
        session.add(row)
    session.flush()
    return [_row_of(row) for row in added]


def _row_of(ti: TaskInstance) -> InstanceRow:
    return InstanceRow(ti.id, ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.state)


def expand_placeholder(session: Session, placeholder_id: int, count: int) -> list[InstanceRow]:
    """Turn a mapped task's -1 placeholder into map indexes 0..count-1; the rows after.

    The placeholder row itself becomes map index 0 (compare-and-set on map_index -1, so
    that a second expansion of the same task changes nothing); ``count`` must be >= 1.
    """
    moved = session.execute(
        update(TaskInstance)
        .where(TaskInstance.id == placeholder_id, TaskInstance.map_index == -1)
        .values(map_index=0)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return []
    placeholder = session.get(TaskInstance, placeholder_id)
    assert placeholder is not None
    # Written above; setting it as committed keeps the ORM from writing it again.
    set_committed_value(placeholder, "map_index", 0)
    copies = [
        TaskInstance(
            dag_id=placeholder.dag_id,
            run_id=placeholder.run_id,
            task_id=placeholder.task_id,
            map_index=index,
            state=None,
            try_number=0,
            max_tries=placeholder.max_tries,
            pool=placeholder.pool,
            pool_slots=placeholder.pool_slots,
            priority_weight=placeholder.priority_weight,
            queue=placeholder.queue,
            operator=placeholder.operator,
            updated_at=placeholder.updated_at,
        )
        for index in range(1, count)
    ]
    session.add_all(copies)
    session.flush()
    return [_row_of(placeholder), *(_row_of(copy) for copy in copies)]


# -- the critical section: what is ready and what limits it -----------------------------


@dataclass(frozen=True)
class Candidate:
    """A scheduled instance that may be queued, with what its limits need to know."""

    id: int
    run_pk: int
    """The run's integer id (what run locks are taken on)."""
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    pool: str
    pool_slots: int
    priority_weight: int
    queue: str
    max_active_tasks: int


_POOL = cast(Table, Pool.__table__)
_LOCK_POOLS = select(_POOL.c.pool, _POOL.c.slots).order_by(_POOL.c.id).with_for_update()


def lock_pools(session: Session) -> dict[str, int]:
    """Every pool's slots, its rows locked so that two schedulers queue one at a time."""
    return {name: slots for name, slots in session.execute(_LOCK_POOLS)}


@functools.cache
def _scheduled(limit: int) -> Select[*tuple[Any, ...]]:
    # Built once per limit: the scheduler runs it on every pass.
    run, dag = cast(Table, DagRun.__table__), cast(Table, Dag.__table__)
    return (
        select(
            _TI.c.id,
            run.c.id,
            _TI.c.dag_id,
            _TI.c.run_id,
            _TI.c.task_id,
            _TI.c.map_index,
            _TI.c.try_number,
            _TI.c.pool,
            _TI.c.pool_slots,
            _TI.c.priority_weight,
            _TI.c.queue,
            dag.c.max_active_tasks,
        )
        .join(run, (run.c.dag_id == _TI.c.dag_id) & (run.c.run_id == _TI.c.run_id))
        .join(dag, dag.c.dag_id == _TI.c.dag_id)
        .where(
            _TI.c.state == S.SCHEDULED.value,
            run.c.state == DagRunState.RUNNING.value,
            not_paused(),
        )
        .order_by(
            _TI.c.priority_weight.desc(),
            run.c.logical_date,
            _TI.c.map_index,
            _TI.c.id,
        )
        .limit(limit)
    )


def scheduled_candidates(session: Session, *, limit: int) -> list[Candidate]:
    """Scheduled instances of running runs (not paused), highest priority first, then the
    oldest run first."""
    return [Candidate(*tuple(row)) for row in session.execute(_scheduled(limit))]


@dataclass
class Occupancy:
    """Slots and counts held by queued and running instances."""

    pools: dict[str, int]
    """Pool name to the pool slots its queued and running instances hold."""
    dags: dict[str, int]
    """DAG id to its queued and running instances, across its runs."""
    tasks: dict[tuple[str, str], int]
    """(DAG id, task id) to its queued and running instances, across runs."""


_OCCUPANCY = (
    select(_TI.c.dag_id, _TI.c.task_id, _TI.c.pool, func.count(), func.sum(_TI.c.pool_slots))
    .where(_TI.c.state.in_(OCCUPYING))
    .group_by(_TI.c.dag_id, _TI.c.task_id, _TI.c.pool)
)


def occupancy(session: Session) -> Occupancy:
    """What queued and running instances hold now (one grouped query)."""
    result = Occupancy({}, {}, {})
    for dag_id, task_id, pool, count, slots in session.execute(_OCCUPANCY):
        result.pools[pool] = result.pools.get(pool, 0) + int(slots or 0)
        result.tasks[(dag_id, task_id)] = result.tasks.get((dag_id, task_id), 0) + count
        result.dags[dag_id] = result.dags.get(dag_id, 0) + count
    return result


# -- depends_on_past ---------------------------------------------------------------------


def previous_run(session: Session, run: DagRun, *, scheduled_only: bool) -> DagRun | None:
    """The DAG's run just before ``run`` by logical date (only scheduled ones if asked)."""
    query = select(DagRun).where(
        DagRun.dag_id == run.dag_id, DagRun.logical_date < run.logical_date
    )
    if scheduled_only:
        query = query.where(DagRun.run_type == "scheduled")
    return session.scalar(query.order_by(DagRun.logical_date.desc()).limit(1))


def instance_states(
    session: Session, dag_id: str, run_id: str, task_ids: Collection[str]
) -> dict[tuple[str, int], str | None]:
    """(task id, map index) to state, for some tasks of one run."""
    rows = session.execute(
        select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id.in_(list(task_ids)),
        )
    )
    return {(task_id, index): state for task_id, index, state in rows}


# -- timers ------------------------------------------------------------------------------


def due_to_retry(session: Session, now: datetime) -> list[TaskInstance]:
    """Up-for-retry and up-for-reschedule instances of running runs whose wait is over."""
    return list(
        session.scalars(
            select(TaskInstance)
            .join(
                DagRun,
                (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id),
            )
            .where(
                TaskInstance.state.in_(WAITING_TO_RETRY),
                TaskInstance.next_try_at <= now,
                DagRun.state == "running",
            )
        )
    )


def next_retry_at(session: Session) -> datetime | None:
    """When the next up-for-retry or up-for-reschedule instance may run again."""
    return session.scalar(
        select(func.min(TaskInstance.next_try_at)).where(TaskInstance.state.in_(WAITING_TO_RETRY))
    )


# -- recovery ----------------------------------------------------------------------------


def queued_by_stopped_jobs(session: Session) -> list[TaskInstance]:
    """Queued instances whose scheduler job is no longer running (their workloads are lost)."""
    return list(
        session.scalars(
            select(TaskInstance)
            .join(Job, Job.id == TaskInstance.queued_by_job_id)
            .where(TaskInstance.state == S.QUEUED.value, Job.state != jobs.RUNNING)
        )
    )


def silent_running(session: Session, before: datetime) -> list[TaskInstance]:
    """Running instances whose last heartbeat is older than ``before``."""
    return list(
        session.scalars(
            select(TaskInstance).where(
                TaskInstance.state == S.RUNNING.value,
                (TaskInstance.last_heartbeat_at < before)
                | TaskInstance.last_heartbeat_at.is_(None),
            )
        )
    )


def get_instance(
    session: Session, dag_id: str, run_id: str, task_id: str, map_index: int
) -> TaskInstance | None:
    """The instance (dag_id, run_id, task_id, map_index), or None."""
    return session.scalar(
        select(TaskInstance).where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == task_id,
            TaskInstance.map_index == map_index,
        )
    )


def by_keys(
    session: Session, keys: Sequence[tuple[str, str, str, int]]
) -> dict[tuple[str, str, str, int], TaskInstance]:
    """Instances by (dag_id, run_id, task_id, map_index)."""
    found: dict[tuple[str, str, str, int], TaskInstance] = {}
    for dag_id, run_id, task_id, map_index in keys:
        ti = get_instance(session, dag_id, run_id, task_id, map_index)
        if ti is not None:
            found[(dag_id, run_id, task_id, map_index)] = ti
    return found
