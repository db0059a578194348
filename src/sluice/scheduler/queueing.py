"""The critical section: which scheduled instances go to the executor now, under the limits.

Highest priority_weight first (then the oldest run, then map index), each instance is
queued only if its pool has ``pool_slots`` open slots, its DAG is under
``max_active_tasks``, its task under ``max_active_tis_per_dag``, and the executor has a
free slot (``core.parallelism`` at most). An instance that does not fit is passed over,
so that a lower-priority one in another pool may still go. Pool rows are locked for the
transaction: two schedulers take turns here, so that neither overfills a pool.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

from sqlalchemy.orm import Session

from sluice.core.messages import TaskInstanceKey, TaskWorkload
from sluice.parsing.serialized import SerializedDag
from sluice.scheduler.serialized_dags import SerializedDagCache
from sluice.store import transitions
from sluice.store.dag_runs import lock_runs
from sluice.store.task_instances import (
    Candidate,
    lock_pools,
    occupancy,
    scheduled_candidates,
)

log = logging.getLogger("sluice.scheduler")


class PoolWarnings:
    """Warn once per pool about instances that can never be queued."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def warn(self, pool: str, message: str) -> None:
        """Log ``message`` the first time ``pool`` has this problem."""
        if pool not in self._seen:
            self._seen.add(pool)
            log.warning(message)


def queue_scheduled(
    session: Session,
    dags: SerializedDagCache,
    locked: Collection[int],
    *,
    free_slots: int,
    job_id: int | None,
    warnings: PoolWarnings,
    known: Mapping[str, SerializedDag] | None = None,
) -> list[TaskWorkload]:
    """Queue what fits among the scheduled instances of running runs.

    ``locked`` are the runs this transaction already holds; the runs of other candidates
    are locked here, skipping those another scheduler holds (it queues their instances).
    ``known`` are DAGs already read in this transaction. Returns the workloads to hand to
    the executor once the transaction has committed.
    """
    if free_slots <= 0:
        return []
    candidates = scheduled_candidates(session, limit=max(4 * free_slots, 64))
    if not candidates:
        return []
    others = {c.run_pk for c in candidates} - set(locked)
    allowed = set(locked) | set(lock_runs(session, others))
    candidates = [c for c in candidates if c.run_pk in allowed]
    if not candidates:
        return []
    pools = lock_pools(session)
    held = occupancy(session)
    serialized = dict(known or {})
    missing = {c.dag_id for c in candidates} - serialized.keys()
    serialized.update(dags.get_many(session, missing))
    chosen: list[Candidate] = []
    for ti in candidates:
        if len(chosen) >= free_slots:
            break
        dag = serialized.get(ti.dag_id)
        if dag is None:
            continue
        slots = pools.get(ti.pool)
        if slots is None:
            warnings.warn(ti.pool, f"pool '{ti.pool}' does not exist: its tasks wait for it")
            continue
        if ti.pool_slots > slots:
            warnings.warn(
                ti.pool,
                f"task '{ti.task_id}' of DAG '{ti.dag_id}' needs {ti.pool_slots} slots of pool "
                f"'{ti.pool}', which has {slots}: it cannot run until the pool grows",
            )
            continue
        if held.pools.get(ti.pool, 0) + ti.pool_slots > slots:
            continue
        if held.dags.get(ti.dag_id, 0) >= ti.max_active_tasks:
            continue
        task = dag.tasks.get(ti.task_id)
        limit = task.max_active_tis_per_dag if task is not None else None
        if limit is not None and held.tasks.get((ti.dag_id, ti.task_id), 0) >= limit:
            continue
        held.pools[ti.pool] = held.pools.get(ti.pool, 0) + ti.pool_slots
        held.dags[ti.dag_id] = held.dags.get(ti.dag_id, 0) + 1
        held.tasks[(ti.dag_id, ti.task_id)] = held.tasks.get((ti.dag_id, ti.task_id), 0) + 1
        chosen.append(ti)
    moved = set(transitions.mark_queued(session, [ti.id for ti in chosen], job_id=job_id))
    return [
        TaskWorkload(
            key=TaskInstanceKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index),
            try_number=ti.try_number + 1,
            dag_file=serialized[ti.dag_id].fileloc,
            queue=ti.queue,
            priority=ti.priority_weight,
        )
        for ti in chosen
        if ti.id in moved
    ]
