"""Clearing task instances so that the scheduler runs them again, and marking them."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from sluice.actions.common import ActionRefused, Actor, load_stored_dag
from sluice.core.states import TaskInstanceState
from sluice.parsing.serialized import SerializedDag
from sluice.store import transitions
from sluice.store.clearing import ClearResult, clear_task_instances
from sluice.store.run_queries import get_dag, instances_to_clear
from sluice.store.tables import DagRun, TaskInstance

S = TaskInstanceState
FAILED = (S.FAILED.value, S.UPSTREAM_FAILED.value)
MARKABLE = (S.SUCCESS, S.FAILED, S.SKIPPED)


@dataclass(frozen=True)
class ClearPlan:
    """The instances a clear would reset, and the running ones it leaves alone."""

    dag: SerializedDag
    chosen: list[tuple[TaskInstance, DagRun]]
    running: list[tuple[TaskInstance, DagRun]]


def pick_tasks(dag: SerializedDag, pattern: str | None) -> list[str]:
    """The tasks whose id matches ``pattern`` (re.search; all when None), in DAG order."""
    if pattern is None:
        return dag.task_ids
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ActionRefused(f"task regex {pattern!r} is not a regular expression: {exc}") from None
    picked = [tid for tid in dag.task_ids if regex.search(tid)]
    if not picked:
        raise ActionRefused(
            f"no task of DAG '{dag.dag_id}' matches {pattern!r}; its tasks are"
            f" {', '.join(dag.task_ids)}"
        )
    return picked


def with_relatives(
    dag: SerializedDag, task_ids: Collection[str], *, downstream: bool, upstream: bool
) -> list[str]:
    """The tasks and, as asked, everything downstream or upstream of them, in DAG order."""
    unknown = [tid for tid in task_ids if tid not in dag.tasks]
    if unknown:
        raise ActionRefused(f"DAG '{dag.dag_id}' has no task {', '.join(map(repr, unknown))}")
    picked = set(task_ids)
    for tid in task_ids:
        if downstream:
            picked |= dag.get_flat_relative_ids(tid)
        if upstream:
            picked |= dag.get_flat_relative_ids(tid, upstream=True)
    return [tid for tid in dag.task_ids if tid in picked]


def plan_clear(
    session: Session,
    dag_id: str,
    task_ids: Collection[str] | None = None,
    *,
    downstream: bool = False,
    upstream: bool = False,
    only_failed: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
    run_id: str | None = None,
) -> ClearPlan:
    """What clearing these tasks (all when None) in runs between ``start`` and ``end`` (or
    in the one run ``run_id``) would reset. Instances with no state yet are left out."""
    get_dag(session, dag_id)
    dag = load_stored_dag(session, dag_id)
    if start and end and end < start:
        raise ActionRefused(f"end date {end.isoformat()} is before start date {start.isoformat()}")
    tasks = with_relatives(
        dag, dag.task_ids if task_ids is None else list(task_ids),
        downstream=downstream, upstream=upstream,
    )  # fmt: skip
    found = instances_to_clear(
        session, dag_id, tasks, states=FAILED if only_failed else None, start=start, end=end,
        run_id=run_id,
    )  # fmt: skip
    running = [(ti, run) for ti, run in found if ti.state == S.RUNNING.value]
    chosen = [(ti, run) for ti, run in found if ti.state not in (None, S.RUNNING.value)]
    return ClearPlan(dag=dag, chosen=chosen, running=running)


def apply_clear(session: Session, actor: Actor, plan: ClearPlan) -> ClearResult:
    """Clear what the plan chose: each instance gets its task's retries again, and its
    finished run goes back to queued."""
    retries = {tid: task.retries for tid, task in plan.dag.tasks.items()}
    result = clear_task_instances(session, plan.chosen, retries)
    actor.record(
        session,
        "tasks_clear",
        dag_id=plan.dag.dag_id,
        extra={"cleared": len(result.cleared), "requeued_runs": result.requeued_runs},
    )
    return result


def mark_instance(
    session: Session, actor: Actor, ti: TaskInstance, state: TaskInstanceState
) -> None:
    """Mark one instance success, failed or skipped; the scheduler then moves its run on."""
    if state not in MARKABLE:
        raise ActionRefused(
            f"a task instance can be marked {', '.join(s.value for s in MARKABLE)}, not {state}"
        )
    if ti.state == state.value:
        raise ActionRefused(f"task instance {ti.task_id} is already {state.value}")
    transitions.set_state(session, ti, state)
    actor.record(
        session, f"tasks_mark_{state.value}", dag_id=ti.dag_id, run_id=ti.run_id,
        task_id=ti.task_id, map_index=ti.map_index,
    )  # fmt: skip
