from __future__ import annotations

import pytest

from sluice.core.states import (
    FAILED_TASK_STATES,
    FINISHED_RUN_STATES,
    FINISHED_TASK_STATES,
    RUN_TRANSITIONS,
    TASK_TRANSITIONS,
    DagRunState,
    TaskInstanceState,
    TaskState,
    run_transition_allowed,
    task_transition_allowed,
)

S = TaskInstanceState
ALL_TASK_STATES: list[TaskState] = [None, *TaskInstanceState]
# What a user may set a finished instance to (Airflow's "mark" API), besides clearing it.
MARK_STATES = {S.SUCCESS, S.FAILED, S.SKIPPED}


def test_state_values_are_airflows() -> None:
    assert {s.value for s in TaskInstanceState} == {
        "scheduled",
        "queued",
        "running",
        "success",
        "failed",
        "skipped",
        "upstream_failed",
        "up_for_retry",
        "up_for_reschedule",
        "removed",
        "restarting",
    }
    assert {s.value for s in DagRunState} == {"queued", "running", "success", "failed"}
    assert S("up_for_retry") is S.UP_FOR_RETRY


def test_every_task_state_has_an_entry() -> None:
    assert set(TASK_TRANSITIONS) == set(ALL_TASK_STATES)
    for targets in TASK_TRANSITIONS.values():
        assert targets <= set(ALL_TASK_STATES)


def test_no_task_state_moves_to_itself() -> None:
    for state, targets in TASK_TRANSITIONS.items():
        assert state not in targets, state


@pytest.mark.parametrize("state", sorted(FINISHED_TASK_STATES))
def test_finished_states_move_only_on_clear_or_mark(state: TaskInstanceState) -> None:
    assert TASK_TRANSITIONS[state] <= {None} | MARK_STATES
    assert task_transition_allowed(state, None)  # every finished state can be cleared


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (None, S.SCHEDULED),
        (S.SCHEDULED, S.QUEUED),
        (S.QUEUED, S.RUNNING),
        (S.RUNNING, S.SUCCESS),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.UP_FOR_RETRY),
        (S.RUNNING, S.SKIPPED),
        (S.UP_FOR_RETRY, S.SCHEDULED),
        (S.RUNNING, S.UP_FOR_RESCHEDULE),
        (S.UP_FOR_RESCHEDULE, S.SCHEDULED),
        (None, S.SKIPPED),
        (None, S.UPSTREAM_FAILED),
        (S.RUNNING, S.RESTARTING),
        (S.RESTARTING, S.UP_FOR_RETRY),
    ],
)
def test_the_normal_life_cycle_is_allowed(old: TaskState, new: TaskState) -> None:
    assert task_transition_allowed(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.SUCCESS, S.RUNNING),
        (S.FAILED, S.QUEUED),
        (S.SKIPPED, S.RUNNING),
        (S.REMOVED, S.SUCCESS),
        (None, S.RUNNING),  # must be queued first
        (S.SCHEDULED, S.RUNNING),
        (S.SUCCESS, S.RESTARTING),
    ],
)
def test_forbidden_task_moves(old: TaskState, new: TaskState) -> None:
    assert not task_transition_allowed(old, new)


def test_task_state_sets() -> None:
    assert {S.SUCCESS, S.FAILED, S.SKIPPED, S.UPSTREAM_FAILED, S.REMOVED} == FINISHED_TASK_STATES
    assert {S.FAILED, S.UPSTREAM_FAILED} == FAILED_TASK_STATES
    assert FAILED_TASK_STATES <= FINISHED_TASK_STATES


def test_every_run_state_has_an_entry() -> None:
    assert set(RUN_TRANSITIONS) == set(DagRunState)
    for state, targets in RUN_TRANSITIONS.items():
        assert state not in targets


def test_run_transitions() -> None:
    assert run_transition_allowed(DagRunState.QUEUED, DagRunState.RUNNING)
    assert run_transition_allowed(DagRunState.RUNNING, DagRunState.SUCCESS)
    assert run_transition_allowed(DagRunState.FAILED, DagRunState.QUEUED)  # cleared
    assert not run_transition_allowed(DagRunState.SUCCESS, DagRunState.RUNNING)
    assert {DagRunState.SUCCESS, DagRunState.FAILED} == FINISHED_RUN_STATES
    for state in FINISHED_RUN_STATES:
        assert RUN_TRANSITIONS[state] <= {DagRunState.QUEUED} | FINISHED_RUN_STATES
