"""Deciding runs: which task instances run, skip or fail upstream, and when a run is over.

For each run flagged ``needs_scheduling`` the scheduler reads its task instances once,
asks ``sluice.sdk.readiness.decide`` (the same function ``sluice dags test`` uses) what
each waiting task does, applies skips and upstream failures through the state writer
(repeating while they change what downstream tasks do), expands mapped tasks, checks
``depends_on_past``, marks the ready ones scheduled, and then derives the run's state
with ``run_state``. Queuing the scheduled ones under the limits is ``queueing``'s part.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from sluice.core.messages import CallbackWorkload
from sluice.core.states import FINISHED_TASK_STATES, DagRunState, TaskInstanceState, TaskState
from sluice.parsing.serialized import SerializedDag, SerializedTask
from sluice.scheduler.expansion import CannotExpand, map_length
from sluice.scheduler.serialized_dags import SerializedDagCache
from sluice.sdk.readiness import Decision, TaskNode, decide, run_state
from sluice.store import transitions
from sluice.store.tables import DagRun, TaskInstance
from sluice.store.task_instances import (
    InstanceRow,
    add_instances,
    expand_placeholder,
    instance_states,
    previous_run,
    run_instances,
)

log = logging.getLogger("sluice.scheduler")

S = TaskInstanceState
_WAITING = (None, S.SCHEDULED.value)
_PAST_OK = (S.SUCCESS.value, S.SKIPPED.value)


@dataclass
class Decided:
    """What deciding a batch of runs did, for the loop to act on after the commit."""

    callbacks: list[CallbackWorkload] = field(default_factory=list)
    finished: list[DagRun] = field(default_factory=list)
    wake_next: list[DagRun] = field(default_factory=list)
    """Runs whose DAG has depends_on_past tasks: the next run may now be able to go on."""
    dags: dict[str, SerializedDag] = field(default_factory=dict)
    """The serialized DAGs read in this transaction (so that queuing need not read them)."""
    undecided: list[DagRun] = field(default_factory=list)
    """Runs whose DAG has no readable serialized form: they stay flagged until it has one."""


def decide_runs(session: Session, dags: SerializedDagCache, runs: Sequence[DagRun]) -> Decided:
    """Decide every run in ``runs`` (locked by the caller) in this transaction."""
    result = Decided()
    if not runs:
        return result
    serialized = dags.get_many(session, {run.dag_id for run in runs})
    result.dags = serialized
    by_run: dict[tuple[str, str], list[InstanceRow]] = {}
    for ti in run_instances(session, [(run.dag_id, run.run_id) for run in runs]):
        by_run.setdefault((ti.dag_id, ti.run_id), []).append(ti)
    for run in runs:
        dag = serialized.get(run.dag_id)
        if dag is None:
            result.undecided.append(run)
            continue
        _RunDecision(session, dag, run, by_run.get((run.dag_id, run.run_id), [])).apply(result)
    return result


class _RunDecision:
    """One run's decision: its instances in memory, kept in step with what is written."""

    def __init__(
        self, session: Session, dag: SerializedDag, run: DagRun, instances: list[InstanceRow]
    ) -> None:
        self.session = session
        self.dag = dag
        self.run = run
        self.instances = instances
        # States as this transaction left them; the ORM rows themselves are never changed,
        # so that no write bypasses the state writer.
        self.state: dict[int, str | None] = {ti.id: ti.state for ti in instances}
        self.nodes: dict[str, TaskNode] = dag.task_nodes()
        self._past: DagRun | None = None
        self._past_known = False

    def apply(self, result: Decided) -> None:
        self._match_dag()
        # Each pass can flag tasks whose downstream tasks then flag in turn; a chain of
        # n tasks settles in at most n passes.
        for _ in range(len(self.nodes) + 1):
            if not self._one_pass():
                break
        self._finish(result)
        if any(task.depends_on_past for task in self.dag.tasks.values()):
            result.wake_next.append(self.run)

    def _states(self) -> dict[str, list[TaskState]]:
        states: dict[str, list[TaskState]] = {}
        for ti in self.instances:
            states.setdefault(ti.task_id, []).append(_state(self.state[ti.id]))
        return states

    def _waiting(self, task_id: str) -> list[InstanceRow]:
        return [
            ti for ti in self.instances if ti.task_id == task_id and self.state[ti.id] in _WAITING
        ]

    def _set(self, ids: list[int], state: str) -> None:
        for ti_id in ids:
            self.state[ti_id] = state

    def _match_dag(self) -> None:
        """Instances for tasks added to the DAG since the run began; removed ones marked."""
        present = {ti.task_id for ti in self.instances}
        added = [
            TaskInstance(
                task_id=task.task_id,
                map_index=-1,
                try_number=0,
                max_tries=task.retries,
                pool=task.pool,
                pool_slots=task.pool_slots,
                priority_weight=self.dag.priority_weight_total(task.task_id),
                queue=task.queue,
                operator=task.operator,
                updated_at=transitions.now(),
            )
            for task in self.dag.topological_order()
            if task.task_id not in present
        ]
        if added:
            rows = add_instances(self.session, self.run, added)
            self.instances.extend(rows)
            self.state.update((row.id, None) for row in rows)
        gone = [ti.id for ti in self.instances if ti.task_id not in self.dag.tasks]
        self._set(transitions.mark_removed(self.session, gone), S.REMOVED.value)

    def _one_pass(self) -> bool:
        """Apply one round of decisions; True when something changed that others depend on."""
        changed = False
        to_schedule: list[int] = []
        waiting_by_task: dict[str, list[InstanceRow]] = {}
        for ti in self.instances:
            if self.state[ti.id] in _WAITING:
                waiting_by_task.setdefault(ti.task_id, []).append(ti)
        for task_id, decision in decide(self.nodes, self._states()).items():
            waiting = waiting_by_task.get(task_id, [])
            if not waiting or decision is Decision.WAIT:
                continue
            ids = [ti.id for ti in waiting]
            if decision is Decision.SKIP:
                self._set(transitions.mark_skipped(self.session, ids), S.SKIPPED.value)
                changed = True
            elif decision is Decision.UPSTREAM_FAILED:
                moved = transitions.mark_upstream_failed(self.session, ids)
                self._set(moved, S.UPSTREAM_FAILED.value)
                changed = True
            else:
                task = self.dag.tasks[task_id]
                if task.is_mapped and any(ti.map_index == -1 for ti in waiting):
                    changed |= self._expand(task, waiting)
                    waiting = self._waiting(task_id)
                to_schedule.extend(
                    ti.id
                    for ti in waiting
                    if self.state[ti.id] is None and self._past_allows(task, ti)
                )
        self._set(transitions.mark_scheduled(self.session, to_schedule), S.SCHEDULED.value)
        return changed

    def _expand(self, task: SerializedTask, waiting: list[InstanceRow]) -> bool:
        """Expand a mapped task's placeholder; True when its instances changed."""
        placeholder = next(ti for ti in waiting if ti.map_index == -1)
        try:
            count = map_length(self.session, self.dag, task, self.run.run_id)
        except CannotExpand as exc:
            log.error("run %s of DAG '%s': %s", self.run.run_id, self.dag.dag_id, exc)
            if exc.missing:
                moved = transitions.mark_upstream_failed(self.session, [placeholder.id])
                self._set(moved, S.UPSTREAM_FAILED.value)
            else:
                self._set(
                    transitions.fail_before_start(self.session, [placeholder.id]), S.FAILED.value
                )
            return True
        if count == 0:
            # Nothing to map over: the task is skipped, as in Airflow.
            self._set(transitions.mark_skipped(self.session, [placeholder.id]), S.SKIPPED.value)
            return True
        expanded = expand_placeholder(self.session, placeholder.id, count)
        if expanded:
            # The placeholder is now map index 0; the copies follow it.
            self.instances = [ti for ti in self.instances if ti.id != placeholder.id]
            self.instances.extend(expanded)
            self.state.update((row.id, None) for row in expanded)
        return True

    def _past_allows(self, task: SerializedTask, ti: InstanceRow) -> bool:
        """depends_on_past and wait_for_downstream, as Airflow's PrevDagrunDep."""
        if not task.depends_on_past:
            return True
        past = self._previous_run()
        if past is None:
            return True  # the first run of the DAG
        if task.start_date is not None and past.logical_date < task.start_date:
            return True  # the task did not exist back then
        wanted = {task.task_id}
        if task.wait_for_downstream:
            wanted |= set(task.downstream_task_ids)
        states = instance_states(self.session, past.dag_id, past.run_id, wanted)
        if (task.task_id, ti.map_index) not in states:
            return True  # as Airflow's default ignore_first_depends_on_past
        if states[(task.task_id, ti.map_index)] not in _PAST_OK:
            return False
        if task.wait_for_downstream:
            downstream = [s for (tid, _), s in states.items() if tid in task.downstream_task_ids]
            if len({tid for tid, _ in states if tid in task.downstream_task_ids}) < len(
                task.downstream_task_ids
            ) or any(s not in _PAST_OK for s in downstream):
                return False
        return True

    def _previous_run(self) -> DagRun | None:
        if not self._past_known:
            self._past = previous_run(self.session, self.run, scheduled_only=self.dag.catchup)
            self._past_known = True
        return self._past

    def _finish(self, result: Decided) -> None:
        """Finish the run when ``run_state`` says so; a DAG callback goes to the executor."""
        states = self._states()
        state = run_state(self.nodes, states)
        if state is None:
            return
        unfinished = [ti for ti in self.instances if self.state[ti.id] not in FINISHED_TASK_STATES]
        if any(
            ti.task_id in self.dag.tasks and self.dag.tasks[ti.task_id].depends_on_past
            for ti in unfinished
        ):
            # Not a deadlock: a depends_on_past task waits for the previous run (Airflow
            # skips its deadlock check for such tasks too).
            return
        transitions.finish_run(self.session, self.run, state)
        result.finished.append(self.run)
        if unfinished:
            log.warning("run %s of DAG '%s' is deadlocked", self.run.run_id, self.dag.dag_id)
        wants = (
            self.dag.has_on_success_callback
            if state is DagRunState.SUCCESS
            else self.dag.has_on_failure_callback
        )
        if wants:
            reason = {
                DagRunState.SUCCESS: "success",
                DagRunState.FAILED: "all_tasks_deadlocked" if unfinished else "task_failure",
            }[state]
            kind = "success" if state is DagRunState.SUCCESS else "failure"
            result.callbacks.append(
                CallbackWorkload(self.dag.dag_id, self.run.run_id, self.dag.fileloc, kind, reason)
            )


def _state(value: str | None) -> TaskState:
    return None if value is None else TaskInstanceState(value)
