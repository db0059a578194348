"""The one pure function that decides which task instances of a DAG run may run.

It reads plain data (task ids, direct upstream ids, trigger rules and the states of
the run's task instances), never operator objects, so that ``sluice dags test`` and
the scheduler, which works from serialized DAGs, share it.

The rules follow Airflow's ``TriggerRuleDep._evaluate_direct_relatives`` with
``flag_upstream_failed=True`` (airflow-core, 3.x main): first a rule may *flag* the
task as skipped or upstream_failed, then it may *pass* (run); otherwise the task
waits. Upstream counts aggregate every instance of every direct upstream task, as
Airflow does for mapped upstreams outside mapped task groups.

Not modelled here, as they are other deps in Airflow and belong to the scheduler:
depends_on_past (and ``wait_for_past_depends_before_skipping``), retry delays,
pools and concurrency limits, setup/teardown scopes, mapped task groups (per map
index upstreams), and the per-instance REMOVED flag that Airflow's all_success
applies to mapped instances beyond a shrunk expansion (the scheduler's expansion
revision removes those instances itself).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from sluice.core.states import (
    FAILED_TASK_STATES,
    FINISHED_TASK_STATES,
    DagRunState,
    TaskInstanceState,
    TaskState,
)
from sluice.sdk.trigger_rules import TriggerRule, parse_trigger_rule

_S = TaskInstanceState
_TR = TriggerRule


@dataclass(frozen=True, slots=True)
class TaskNode:
    """One task of a DAG as the readiness function sees it."""

    task_id: str
    upstream: frozenset[str]
    """Direct upstream task ids."""
    trigger_rule: TriggerRule = TriggerRule.ALL_SUCCESS

    def __post_init__(self) -> None:
        # Serialized DAGs hand us plain strings and lists; normalise them once here
        # so that the hot path never has to.
        if not isinstance(self.upstream, frozenset):
            object.__setattr__(self, "upstream", frozenset(self.upstream))
        if type(self.trigger_rule) is not TriggerRule:
            object.__setattr__(self, "trigger_rule", parse_trigger_rule(self.trigger_rule))


class Decision(StrEnum):
    """What to do now with a task's instances that wait for a decision."""

    WAIT = "wait"
    RUN = "run"
    SKIP = "skip"
    UPSTREAM_FAILED = "upstream_failed"


class _Counts(NamedTuple):
    """States of the instances of a task's direct upstream tasks, counted."""

    total: int
    success: int
    skipped: int
    failed: int
    upstream_failed: int
    removed: int

    @property
    def done(self) -> int:
        # Airflow's State.finished, REMOVED included.
        return self.success + self.skipped + self.failed + self.upstream_failed + self.removed


# Index of each finished state in _Counts; looked up by hash, so plain strings
# read back from a database count the same as the enum members.
_SLOT: dict[TaskState, int] = {
    _S.SUCCESS: 1,
    _S.SKIPPED: 2,
    _S.FAILED: 3,
    _S.UPSTREAM_FAILED: 4,
    _S.REMOVED: 5,
}
_PENDING: frozenset[TaskState] = frozenset({None, _S.SCHEDULED})
"""Instances waiting for a decision: no status yet, or scheduled."""
_ACTIVE: frozenset[TaskState] = frozenset(
    {_S.QUEUED, _S.RUNNING, _S.UP_FOR_RETRY, _S.UP_FOR_RESCHEDULE, _S.RESTARTING}
)
"""Unfinished instances that will move on without a scheduling decision."""
_NO_STATUS: tuple[TaskState, ...] = (None,)


def _instances(states: Mapping[str, Sequence[TaskState]], task_id: str) -> Sequence[TaskState]:
    # A task with no instance row yet is one instance with no status: it is never
    # vacuously "done", so its downstream tasks wait for it.
    return states.get(task_id) or _NO_STATUS


def _count(instances: Sequence[TaskState]) -> list[int]:
    counts = [len(instances), 0, 0, 0, 0, 0]
    for state in instances:
        slot = _SLOT.get(state)
        if slot is not None:
            counts[slot] += 1
    return counts


def _upstream_counts(
    node: TaskNode,
    states: Mapping[str, Sequence[TaskState]],
    per_task: dict[str, list[int]],
) -> _Counts:
    """Sum the state counts of every instance of ``node``'s direct upstream tasks."""
    total = [0, 0, 0, 0, 0, 0]
    for upstream_id in node.upstream:
        counts = per_task.get(upstream_id)
        if counts is None:
            # Counted once per upstream task, however many tasks share it.
            counts = per_task[upstream_id] = _count(_instances(states, upstream_id))
        for i in range(6):
            total[i] += counts[i]
    return _Counts(*total)


# One function per rule. Each first checks Airflow's flag conditions (SKIP or
# UPSTREAM_FAILED, which win even when the task could otherwise pass), then its
# pass condition. ``c.done >= c.total`` is Airflow's ``upstream_done``.


def _all_success(c: _Counts) -> Decision:
    if c.failed or c.upstream_failed:
        return Decision.UPSTREAM_FAILED
    if c.skipped:
        return Decision.SKIP
    # Removed upstream instances count as successes (Airflow main; before it,
    # unmapped tasks waited forever on them, apache/airflow#33164).
    return Decision.RUN if c.success + c.removed >= c.total else Decision.WAIT


def _all_failed(c: _Counts) -> Decision:
    if c.success or c.skipped:
        return Decision.SKIP
    done_failing = c.failed + c.upstream_failed + c.removed
    return Decision.RUN if done_failing >= c.total else Decision.WAIT


def _all_done(c: _Counts) -> Decision:
    # Never flags: runs once every upstream instance is finished, whatever its state.
    return Decision.RUN if c.done >= c.total else Decision.WAIT


def _all_done_min_one_success(c: _Counts) -> Decision:
    # Surprising: one skipped upstream skips the task at once, even while other
    # upstream tasks still run; Airflow treats "skipped" as "not done" here.
    if c.skipped:
        return Decision.SKIP
    if c.done < c.total:
        return Decision.WAIT
    return Decision.RUN if c.success else Decision.UPSTREAM_FAILED


def _all_skipped(c: _Counts) -> Decision:
    if c.success or c.failed or c.upstream_failed:
        return Decision.SKIP
    # Surprising, kept from Airflow: a removed upstream instance is neither a skip
    # nor a reason to flag, so the task waits forever and the run deadlocks.
    return Decision.RUN if c.skipped >= c.total else Decision.WAIT


def _one_success(c: _Counts) -> Decision:
    if c.done >= c.total:
        if c.done == c.skipped:
            return Decision.SKIP
        if not c.success:
            # Since Airflow 2.1 (apache/airflow#15467): failures, upstream
            # failures or removals with no success fail the task instead of skipping.
            return Decision.UPSTREAM_FAILED
    # Fires on the first success without waiting for the other upstream tasks.
    return Decision.RUN if c.success else Decision.WAIT


def _one_failed(c: _Counts) -> Decision:
    if c.failed or c.upstream_failed:
        return Decision.RUN
    return Decision.SKIP if c.done >= c.total else Decision.WAIT


def _one_done(c: _Counts) -> Decision:
    # Surprising: "done" means success or failed only; an upstream_failed (or
    # skipped, or removed) upstream does not fire the task, and if every upstream
    # ends that way the task is skipped.
    if c.success or c.failed:
        return Decision.RUN
    return Decision.SKIP if c.done >= c.total else Decision.WAIT


def _none_failed(c: _Counts) -> Decision:
    if c.failed or c.upstream_failed:
        return Decision.UPSTREAM_FAILED
    ok = c.success + c.skipped + c.removed
    return Decision.RUN if ok >= c.total else Decision.WAIT


def _none_failed_min_one_success(c: _Counts) -> Decision:
    if c.failed or c.upstream_failed:
        return Decision.UPSTREAM_FAILED
    if c.skipped == c.total:
        return Decision.SKIP
    if c.done < c.total:
        return Decision.WAIT
    # All done, none failed, not all skipped: skipped plus removed with no success
    # is upstream_failed since Airflow main (apache/airflow#67873); older Airflow ran it.
    return Decision.RUN if c.success else Decision.UPSTREAM_FAILED


def _none_skipped(c: _Counts) -> Decision:
    if c.skipped:
        return Decision.SKIP
    # Failed and upstream_failed upstreams do not stop it: it runs once all are done.
    return Decision.RUN if c.done >= c.total else Decision.WAIT


def _always(c: _Counts) -> Decision:
    return Decision.RUN


_RULES: dict[TriggerRule, Callable[[_Counts], Decision]] = {
    _TR.ALL_SUCCESS: _all_success,
    _TR.ALL_FAILED: _all_failed,
    _TR.ALL_DONE: _all_done,
    _TR.ALL_DONE_MIN_ONE_SUCCESS: _all_done_min_one_success,
    _TR.ALL_SKIPPED: _all_skipped,
    _TR.ONE_SUCCESS: _one_success,
    _TR.ONE_FAILED: _one_failed,
    _TR.ONE_DONE: _one_done,
    _TR.NONE_FAILED: _none_failed,
    _TR.NONE_FAILED_MIN_ONE_SUCCESS: _none_failed_min_one_success,
    _TR.NONE_SKIPPED: _none_skipped,
    _TR.ALWAYS: _always,
}


def decide(
    tasks: Mapping[str, TaskNode], states: Mapping[str, Sequence[TaskState]]
) -> dict[str, Decision]:
    """Decide every task with an instance in state None or scheduled.

    Args:
        tasks: every task of the DAG, by task id.
        states: per task id, the states of its instances (one per map index for a
            mapped task). A task missing here, or listed with no instance, counts as
            one instance with no status.

    Returns:
        A decision for each task that has at least one instance waiting (None or
        scheduled); it applies to those waiting instances. Runs in time linear in
        tasks, edges and instances.
    """
    per_task: dict[str, list[int]] = {}
    decisions: dict[str, Decision] = {}
    for task_id, node in tasks.items():
        if not any(state in _PENDING for state in _instances(states, task_id)):
            continue
        if not node.upstream:
            # Airflow's TriggerRuleDep passes at once for a task with no upstream,
            # whatever its rule (even all_failed or all_skipped).
            decisions[task_id] = Decision.RUN
            continue
        counts = _upstream_counts(node, states, per_task)
        decisions[task_id] = _RULES[node.trigger_rule](counts)
    return decisions


def downstream_map(tasks: Mapping[str, TaskNode]) -> dict[str, frozenset[str]]:
    """Map each task id (and each upstream id named) to its direct downstream task ids."""
    downstream: dict[str, set[str]] = {task_id: set() for task_id in tasks}
    for task_id, node in tasks.items():
        for upstream_id in node.upstream:
            downstream.setdefault(upstream_id, set()).add(task_id)
    return {task_id: frozenset(ids) for task_id, ids in downstream.items()}


def run_state(
    tasks: Mapping[str, TaskNode], states: Mapping[str, Sequence[TaskState]]
) -> DagRunState | None:
    """Derive a DAG run's state from its task instances as Airflow's DagRun.update_state.

    Returns None while the run is still running. In Airflow's order:
    1. every instance finished and a leaf instance failed or upstream_failed: FAILED;
    2. every instance finished (so every leaf succeeded or was skipped): SUCCESS;
    3. deadlock: unfinished instances, none queued, running or retrying, and
       ``decide`` gives WAIT to every waiting task: FAILED.
    Leaves are tasks with no downstream; removed leaf instances are ignored, and
    an upstream failure that no leaf inherits does not fail the run.
    Unlike Airflow, depends_on_past and concurrency limits are not known here;
    Airflow skips its deadlock check when a waiting task has them, so a caller with
    such tasks must not treat this deadlock FAILED as final.
    """
    unfinished = False
    for task_id in tasks:
        for state in _instances(states, task_id):
            if state in _ACTIVE:
                # Something will still move without us: not finished, not deadlocked.
                return None
            if state not in FINISHED_TASK_STATES:
                unfinished = True

    if not unfinished:
        has_downstream: set[str] = set()
        for node in tasks.values():
            has_downstream.update(node.upstream)
        for task_id in tasks:
            if task_id in has_downstream:
                continue
            # Only leaves decide: a failure upstream of an all_done leaf that then
            # succeeded gives a successful run, as in Airflow.
            if any(state in FAILED_TASK_STATES for state in _instances(states, task_id)):
                return DagRunState.FAILED
        return DagRunState.SUCCESS

    # Airflow counts a flag (skip or upstream_failed) as progress: the caller
    # applies it and asks again; only a run where everything waits is deadlocked.
    if all(d is Decision.WAIT for d in decide(tasks, states).values()):
        return DagRunState.FAILED
    return None
