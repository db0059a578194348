"""Why is this task instance not running? Each unmet dependency, in words.

The checks are the scheduler's, in its order: the DAG, the run, the instance's own
state and retry delay, the trigger rule (through ``sluice.sdk.readiness.decide``, the
one readiness function), depends_on_past and wait_for_downstream, then the limits on
how many instances run at once (pool slots, max_active_tasks, max_active_tis_per_dag).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from sluice.core.states import DagRunState, TaskInstanceState, TaskState
from sluice.parsing.serialized import SerializedDag
from sluice.sdk.readiness import Decision, decide
from sluice.store.run_queries import (
    active_instances,
    pool_usage,
    previous_run,
    run_task_instances,
    running_runs,
)
from sluice.store.tables import Backfill, Dag, DagRun, TaskInstance

S = TaskInstanceState
_DONE_OK = (S.SUCCESS.value, S.SKIPPED.value)
_WAITING = (None, S.SCHEDULED.value, S.UP_FOR_RETRY.value, S.UP_FOR_RESCHEDULE.value)
"""States of an instance that waits for the scheduler; any other means it is not waiting."""


@dataclass(frozen=True)
class UnmetDependency:
    """One reason a task instance does not run now."""

    dependency: str
    reason: str


def unmet_dependencies(
    session: Session,
    dag_row: Dag,
    dag: SerializedDag,
    run: DagRun,
    ti: TaskInstance,
    *,
    now: datetime,
) -> list[UnmetDependency]:
    """Every dependency of ``ti`` that is not met now; empty when the scheduler may queue it."""
    return list(_checks(session, dag_row, dag, run, ti, now))


def _checks(
    session: Session, dag_row: Dag, dag: SerializedDag, run: DagRun, ti: TaskInstance, now: datetime
) -> Iterator[UnmetDependency]:
    if dag_row.is_paused:
        yield UnmetDependency(
            "DAG paused", f"DAG '{dag.dag_id}' is paused (`sluice dags unpause {dag.dag_id}`)"
        )
    if not dag_row.is_active:
        yield UnmetDependency(
            "DAG active", f"DAG '{dag.dag_id}' is inactive: its file {dag_row.fileloc} is gone"
        )
    yield from _run_state(session, dag_row, dag, run)
    if ti.state not in _WAITING:
        yield UnmetDependency("Task state", _not_waiting(ti))
        return
    if ti.task_id not in dag.tasks:
        yield UnmetDependency(
            "Task", f"task '{ti.task_id}' is no longer in DAG '{dag.dag_id}'; it will be removed"
        )
        return
    if ti.state in (S.UP_FOR_RETRY.value, S.UP_FOR_RESCHEDULE.value):
        if ti.next_try_at is not None and ti.next_try_at > now:
            wait = round((ti.next_try_at - now).total_seconds())
            what = "retry" if ti.state == S.UP_FOR_RETRY.value else "reschedule"
            yield UnmetDependency(
                "Retry delay" if what == "retry" else "Reschedule delay",
                f"up for {what}: the next try may start at {ti.next_try_at.isoformat()}"
                f" (in {wait} s)",
            )
    else:
        yield from _trigger_rule(session, dag, run, ti)
    yield from _past(session, dag, run, ti)
    yield from _limits(session, dag, ti)


def _run_state(
    session: Session, dag_row: Dag, dag: SerializedDag, run: DagRun
) -> Iterator[UnmetDependency]:
    if run.state == DagRunState.RUNNING.value:
        return
    if run.state != DagRunState.QUEUED.value:
        yield UnmetDependency(
            "Run state",
            f"run '{run.run_id}' has finished ({run.state}); clear the task to run it again",
        )
        return
    backfill = session.get(Backfill, run.backfill_id) if run.backfill_id else None
    limit = backfill.max_active_runs if backfill else dag.max_active_runs
    running = running_runs(session, dag.dag_id, backfill.id if backfill else None)
    if running >= limit:
        whose = f"backfill {backfill.id}" if backfill else "the DAG"
        why = f"{running} runs of {whose} are running, its max_active_runs is {limit}"
    elif dag_row.is_paused and backfill is None:
        why = "it starts once the DAG is unpaused"
    else:
        why = "the scheduler starts it at its next pass"
    yield UnmetDependency("Run state", f"run '{run.run_id}' is queued, not running: {why}")


def _not_waiting(ti: TaskInstance) -> str:
    state = ti.state or "none"
    if state == S.RUNNING.value:
        return f"the task instance is running (try {ti.try_number}, on {ti.hostname or '?'})"
    if state == S.QUEUED.value:
        return "the task instance is queued: the executor starts it when a worker is free"
    return f"the task instance has finished ({state}); clear it to run it again"


def _trigger_rule(
    session: Session, dag: SerializedDag, run: DagRun, ti: TaskInstance
) -> Iterator[UnmetDependency]:
    task = dag.tasks[ti.task_id]
    if not task.upstream_task_ids:
        return
    states: dict[str, list[TaskState]] = {}
    for other in run_task_instances(session, run.dag_id, run.run_id):
        states.setdefault(other.task_id, []).append(_state(other.state))
    decision = decide(dag.task_nodes(), states).get(ti.task_id, Decision.RUN)
    if decision is Decision.RUN:
        return
    upstream = ", ".join(
        f"{tid} ({_summary(states.get(tid, [None]))})" for tid in sorted(task.upstream_task_ids)
    )
    outcome = {
        Decision.WAIT: "waits for its upstream tasks",
        Decision.SKIP: "will be skipped",
        Decision.UPSTREAM_FAILED: "will be marked upstream_failed",
    }[decision]
    yield UnmetDependency(
        "Trigger rule", f"trigger rule {task.trigger_rule.value}: {outcome}; upstream: {upstream}"
    )


def _state(value: str | None) -> TaskState:
    return None if value is None else S(value)


def _summary(states: Sequence[TaskState]) -> str:
    counts = Counter(s.value if s is not None else "none" for s in states)
    if len(states) == 1:
        return next(iter(counts))
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def _past(
    session: Session, dag: SerializedDag, run: DagRun, ti: TaskInstance
) -> Iterator[UnmetDependency]:
    task = dag.tasks[ti.task_id]
    if not (task.depends_on_past or task.wait_for_downstream):
        return
    before = previous_run(session, run)
    if before is None:
        return  # The first run has no past to depend on.
    previous = {
        (p.task_id, p.map_index): p
        for p in run_task_instances(session, before.dag_id, before.run_id)
    }
    mine = previous.get((ti.task_id, ti.map_index))
    if mine is not None and mine.state not in _DONE_OK:
        yield UnmetDependency(
            "depends_on_past",
            f"in the previous run '{before.run_id}' this task is {mine.state or 'none'},"
            " not success or skipped",
        )
    if task.wait_for_downstream and mine is not None:
        pending = sorted(
            f"{p.task_id} ({p.state or 'none'})"
            for p in previous.values()
            if p.task_id in task.downstream_task_ids and p.state not in _DONE_OK
        )
        if pending:
            yield UnmetDependency(
                "wait_for_downstream",
                f"in the previous run '{before.run_id}' these downstream tasks have not"
                f" succeeded: {', '.join(pending)}",
            )


def _limits(session: Session, dag: SerializedDag, ti: TaskInstance) -> Iterator[UnmetDependency]:
    slots, used = pool_usage(session, ti.pool)
    if slots is None:
        yield UnmetDependency(
            "Pool",
            f"pool '{ti.pool}' does not exist; create it with `sluice pools set {ti.pool} SLOTS`",
        )
    elif slots - used < ti.pool_slots:
        yield UnmetDependency(
            "Pool",
            f"pool '{ti.pool}' is full: {used} of {slots} slots in use, the task needs"
            f" {ti.pool_slots}",
        )
    active = active_instances(session, dag.dag_id)
    if active >= dag.max_active_tasks:
        yield UnmetDependency(
            "max_active_tasks",
            f"{active} task instances of DAG '{dag.dag_id}' are queued or running;"
            f" its max_active_tasks is {dag.max_active_tasks}",
        )
    limit = dag.tasks[ti.task_id].max_active_tis_per_dag
    if limit is not None:
        active = active_instances(session, dag.dag_id, ti.task_id)
        if active >= limit:
            yield UnmetDependency(
                "max_active_tis_per_dag",
                f"{active} instances of task '{ti.task_id}' are queued or running;"
                f" its max_active_tis_per_dag is {limit}",
            )
