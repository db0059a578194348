from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sluice.core.errors import DagDefinitionError
from sluice.core.states import FINISHED_TASK_STATES, DagRunState, TaskInstanceState, TaskState
from sluice.sdk.readiness import Decision, TaskNode, decide, downstream_map, run_state
from sluice.sdk.trigger_rules import TriggerRule

TR = TriggerRule
D = Decision

# Upstream states, short so that the table below reads as one row per case.
OK = TaskInstanceState.SUCCESS
FAIL = TaskInstanceState.FAILED
UPF = TaskInstanceState.UPSTREAM_FAILED
SKIPPED = TaskInstanceState.SKIPPED
REM = TaskInstanceState.REMOVED
RUNNING = TaskInstanceState.RUNNING
NONE = None  # no status: not done

ALL_STATES: list[TaskState] = [None, *TaskInstanceState]
UNFINISHED_STATES: list[TaskState] = [s for s in ALL_STATES if s not in FINISHED_TASK_STATES]
FINISHED_STATES: list[TaskState] = [s for s in sorted(FINISHED_TASK_STATES)]


def decide_one(rule: TriggerRule, upstream_states: Sequence[TaskState]) -> Decision:
    """Decide task "t" whose direct upstreams u0, u1, ... have one instance each."""
    tasks = {f"u{i}": TaskNode(f"u{i}", frozenset()) for i in range(len(upstream_states))}
    tasks["t"] = TaskNode("t", frozenset(tasks), rule)
    states: dict[str, list[TaskState]] = {f"u{i}": [s] for i, s in enumerate(upstream_states)}
    states["t"] = [None]
    return decide(tasks, states)["t"]


# Every rule against the mixes of upstream states that matter. Mirrors Airflow's
# TriggerRuleDep._evaluate_direct_relatives (flag_upstream_failed=True, 3.x main).
TABLE: list[tuple[TriggerRule, tuple[TaskState, ...], Decision]] = [
    # all_success
    (TR.ALL_SUCCESS, (OK, OK), D.RUN),
    (TR.ALL_SUCCESS, (OK, RUNNING), D.WAIT),
    (TR.ALL_SUCCESS, (OK, NONE), D.WAIT),
    (TR.ALL_SUCCESS, (FAIL, RUNNING), D.UPSTREAM_FAILED),  # flags without waiting
    (TR.ALL_SUCCESS, (UPF, OK), D.UPSTREAM_FAILED),
    (TR.ALL_SUCCESS, (SKIPPED, OK), D.SKIP),  # skips propagate
    (TR.ALL_SUCCESS, (SKIPPED, RUNNING), D.SKIP),  # ... without waiting
    (TR.ALL_SUCCESS, (SKIPPED, FAIL), D.UPSTREAM_FAILED),  # a failure beats a skip
    (TR.ALL_SUCCESS, (OK, REM), D.RUN),  # removed counts as success
    (TR.ALL_SUCCESS, (REM,), D.RUN),
    # all_failed
    (TR.ALL_FAILED, (FAIL, UPF), D.RUN),  # upstream_failed counts as failed
    (TR.ALL_FAILED, (FAIL, RUNNING), D.WAIT),
    (TR.ALL_FAILED, (FAIL, OK), D.SKIP),
    (TR.ALL_FAILED, (FAIL, SKIPPED), D.SKIP),
    (TR.ALL_FAILED, (OK, RUNNING), D.SKIP),  # skips without waiting
    (TR.ALL_FAILED, (FAIL, REM), D.RUN),  # removed does not block
    # all_done
    (TR.ALL_DONE, (OK, FAIL, UPF, SKIPPED, REM), D.RUN),
    (TR.ALL_DONE, (FAIL, RUNNING), D.WAIT),
    (TR.ALL_DONE, (SKIPPED, NONE), D.WAIT),
    (TR.ALL_DONE, (SKIPPED, SKIPPED), D.RUN),  # never skips nor fails
    # all_done_min_one_success
    (TR.ALL_DONE_MIN_ONE_SUCCESS, (OK, FAIL), D.RUN),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, (OK, UPF), D.RUN),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, (OK, REM), D.RUN),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, (OK, RUNNING), D.WAIT),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, (FAIL, UPF), D.UPSTREAM_FAILED),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, (REM,), D.UPSTREAM_FAILED),  # done, no success
    (TR.ALL_DONE_MIN_ONE_SUCCESS, (OK, SKIPPED), D.SKIP),  # any skip skips
    (TR.ALL_DONE_MIN_ONE_SUCCESS, (SKIPPED, RUNNING), D.SKIP),  # ... without waiting
    # all_skipped
    (TR.ALL_SKIPPED, (SKIPPED, SKIPPED), D.RUN),
    (TR.ALL_SKIPPED, (SKIPPED, RUNNING), D.WAIT),
    (TR.ALL_SKIPPED, (SKIPPED, OK), D.SKIP),
    (TR.ALL_SKIPPED, (FAIL, RUNNING), D.SKIP),  # skips without waiting
    (TR.ALL_SKIPPED, (UPF,), D.SKIP),
    (TR.ALL_SKIPPED, (SKIPPED, REM), D.WAIT),  # Airflow quirk: waits forever
    # one_success
    (TR.ONE_SUCCESS, (OK, RUNNING), D.RUN),  # does not wait for the others
    (TR.ONE_SUCCESS, (OK, FAIL), D.RUN),
    (TR.ONE_SUCCESS, (FAIL, RUNNING), D.WAIT),
    (TR.ONE_SUCCESS, (SKIPPED, RUNNING), D.WAIT),
    (TR.ONE_SUCCESS, (FAIL, SKIPPED), D.UPSTREAM_FAILED),  # done, no success
    (TR.ONE_SUCCESS, (UPF, UPF), D.UPSTREAM_FAILED),
    (TR.ONE_SUCCESS, (SKIPPED, SKIPPED), D.SKIP),  # all skipped: skip, not fail
    (TR.ONE_SUCCESS, (SKIPPED, REM), D.UPSTREAM_FAILED),  # not *all* skipped
    # one_failed
    (TR.ONE_FAILED, (FAIL, RUNNING), D.RUN),  # does not wait for the others
    (TR.ONE_FAILED, (UPF, NONE), D.RUN),  # upstream_failed counts as failed
    (TR.ONE_FAILED, (OK, RUNNING), D.WAIT),
    (TR.ONE_FAILED, (OK, SKIPPED), D.SKIP),  # done, none failed
    (TR.ONE_FAILED, (REM,), D.SKIP),
    # one_done
    (TR.ONE_DONE, (OK, RUNNING), D.RUN),
    (TR.ONE_DONE, (FAIL, NONE), D.RUN),
    (TR.ONE_DONE, (UPF, RUNNING), D.WAIT),  # upstream_failed is not "done" here
    (TR.ONE_DONE, (SKIPPED, RUNNING), D.WAIT),
    (TR.ONE_DONE, (UPF, SKIPPED), D.SKIP),  # done, no success nor failure
    (TR.ONE_DONE, (SKIPPED, REM), D.SKIP),
    # none_failed
    (TR.NONE_FAILED, (OK, SKIPPED), D.RUN),
    (TR.NONE_FAILED, (SKIPPED, SKIPPED), D.RUN),  # runs even when all skipped
    (TR.NONE_FAILED, (OK, REM), D.RUN),
    (TR.NONE_FAILED, (OK, RUNNING), D.WAIT),
    (TR.NONE_FAILED, (FAIL, RUNNING), D.UPSTREAM_FAILED),  # flags without waiting
    (TR.NONE_FAILED, (UPF, OK), D.UPSTREAM_FAILED),
    # none_failed_min_one_success
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, (OK, SKIPPED), D.RUN),  # the branch join
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, (OK, REM), D.RUN),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, (OK, RUNNING), D.WAIT),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, (SKIPPED, RUNNING), D.WAIT),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, (SKIPPED, SKIPPED), D.SKIP),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, (FAIL, OK), D.UPSTREAM_FAILED),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, (SKIPPED, UPF), D.UPSTREAM_FAILED),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, (SKIPPED, REM), D.UPSTREAM_FAILED),  # no success
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, (REM,), D.UPSTREAM_FAILED),  # apache/airflow#67873
    # none_skipped
    (TR.NONE_SKIPPED, (OK, FAIL, UPF, REM), D.RUN),  # failures do not stop it
    (TR.NONE_SKIPPED, (OK, RUNNING), D.WAIT),
    (TR.NONE_SKIPPED, (SKIPPED, RUNNING), D.SKIP),  # skips without waiting
    # always
    (TR.ALWAYS, (NONE, NONE), D.RUN),  # runs at once
    (TR.ALWAYS, (FAIL, UPF), D.RUN),
    (TR.ALWAYS, (SKIPPED,), D.RUN),
]


@pytest.mark.parametrize(
    ("rule", "upstream_states", "expected"),
    TABLE,
    ids=[f"{r}-{'+'.join(str(s) for s in ups)}" for r, ups, _ in TABLE],
)
def test_trigger_rule_table(
    rule: TriggerRule, upstream_states: tuple[TaskState, ...], expected: Decision
) -> None:
    assert decide_one(rule, upstream_states) is expected


def test_table_covers_every_rule_and_outcome() -> None:
    assert {rule for rule, _, _ in TABLE} == set(TriggerRule)
    for rule in TriggerRule:
        seen = {d for r, _, d in TABLE if r is rule}
        assert D.RUN in seen
        if rule is not TR.ALWAYS:
            assert D.WAIT in seen


@pytest.mark.parametrize("rule", list(TriggerRule))
def test_no_upstream_runs_whatever_the_rule(rule: TriggerRule) -> None:
    # Airflow's TriggerRuleDep passes at once for a task with no upstream.
    assert decide({"t": TaskNode("t", frozenset(), rule)}, {"t": [None]}) == {"t": D.RUN}


@pytest.mark.parametrize("rule", list(TriggerRule))
@pytest.mark.parametrize("unfinished", UNFINISHED_STATES)
def test_unfinished_upstream_waits_unless_always(rule: TriggerRule, unfinished: TaskState) -> None:
    expected = D.RUN if rule is TR.ALWAYS else D.WAIT
    assert decide_one(rule, (unfinished, unfinished)) is expected


# Mapped upstream tasks: every instance counts, as Airflow's TriggerRuleDep counts
# every task instance row of an upstream that needs expansion.


def mapped(rule: TriggerRule, *upstreams: Sequence[TaskState]) -> Decision:
    tasks = {f"u{i}": TaskNode(f"u{i}", frozenset()) for i in range(len(upstreams))}
    tasks["t"] = TaskNode("t", frozenset(tasks), rule)
    states: dict[str, Sequence[TaskState]] = {f"u{i}": s for i, s in enumerate(upstreams)}
    states["t"] = [None]
    return decide(tasks, states)["t"]


def test_mapped_upstream_counts_every_instance() -> None:
    assert mapped(TR.ALL_SUCCESS, [OK, OK, OK]) is D.RUN
    assert mapped(TR.ALL_SUCCESS, [OK, RUNNING, OK]) is D.WAIT
    assert mapped(TR.ALL_SUCCESS, [OK, FAIL, RUNNING]) is D.UPSTREAM_FAILED
    assert mapped(TR.ALL_SUCCESS, [OK, OK, REM]) is D.RUN  # a shrunk expansion
    assert mapped(TR.ONE_SUCCESS, [FAIL, OK, RUNNING]) is D.RUN
    assert mapped(TR.ONE_FAILED, [OK, OK], [OK]) is D.SKIP
    assert mapped(TR.NONE_FAILED_MIN_ONE_SUCCESS, [SKIPPED, SKIPPED], [SKIPPED]) is D.SKIP
    assert mapped(TR.NONE_FAILED_MIN_ONE_SUCCESS, [SKIPPED, OK], [SKIPPED]) is D.RUN
    assert mapped(TR.ALL_DONE, [OK, FAIL], [RUNNING]) is D.WAIT


def test_mapped_task_is_decided_while_any_instance_waits() -> None:
    tasks = {"u": TaskNode("u", frozenset()), "m": TaskNode("m", frozenset({"u"}))}
    assert decide(tasks, {"u": [OK], "m": [OK, None, RUNNING]}) == {"m": D.RUN}
    assert decide(tasks, {"u": [OK], "m": [OK, RUNNING]}) == {}


def test_only_waiting_tasks_are_decided() -> None:
    tasks = {
        "a": TaskNode("a", frozenset()),
        "b": TaskNode("b", frozenset({"a"})),
        "c": TaskNode("c", frozenset({"b"})),
        "d": TaskNode("d", frozenset({"b"})),
    }
    states: dict[str, list[TaskState]] = {
        "a": [OK],
        "b": [TaskInstanceState.SCHEDULED],  # scheduled still gets a decision
        "c": [None],
        "d": [TaskInstanceState.QUEUED],  # queued does not
    }
    assert decide(tasks, states) == {"b": D.RUN, "c": D.WAIT}


def test_missing_or_empty_states_count_as_no_status() -> None:
    tasks = {"a": TaskNode("a", frozenset()), "b": TaskNode("b", frozenset({"a"}))}
    assert decide(tasks, {}) == {"a": D.RUN, "b": D.WAIT}
    assert decide(tasks, {"a": [], "b": []}) == {"a": D.RUN, "b": D.WAIT}


def test_states_read_back_as_plain_strings_count_the_same() -> None:
    tasks = {"a": TaskNode("a", frozenset()), "b": TaskNode("b", frozenset({"a"}))}
    assert decide(tasks, {"a": ["success"], "b": ["scheduled"]}) == {"b": D.RUN}  # type: ignore[list-item]
    assert decide(tasks, {"a": ["failed"], "b": [None]}) == {"b": D.UPSTREAM_FAILED}  # type: ignore[list-item]


def test_task_node_normalises_serialized_input() -> None:
    node = TaskNode("t", ["a", "b"], "one_failed")  # type: ignore[arg-type]
    assert node.upstream == frozenset({"a", "b"})
    assert node.trigger_rule is TR.ONE_FAILED
    with pytest.raises(DagDefinitionError, match="unknown trigger rule 'sometimes'"):
        TaskNode("t", frozenset(), "sometimes")  # type: ignore[arg-type]


def test_branch_join() -> None:
    # branch >> [left, right] >> join: the branch skipped "right".
    tasks = {
        "branch": TaskNode("branch", frozenset()),
        "left": TaskNode("left", frozenset({"branch"})),
        "right": TaskNode("right", frozenset({"branch"})),
        "join": TaskNode("join", frozenset({"left", "right"})),
        "join_nfmos": TaskNode(
            "join_nfmos", frozenset({"left", "right"}), TR.NONE_FAILED_MIN_ONE_SUCCESS
        ),
    }
    states: dict[str, list[TaskState]] = {
        "branch": [OK],
        "left": [OK],
        "right": [SKIPPED],
        "join": [None],
        "join_nfmos": [None],
    }
    assert decide(tasks, states) == {"join": D.SKIP, "join_nfmos": D.RUN}


def test_downstream_map() -> None:
    tasks = {
        "a": TaskNode("a", frozenset()),
        "b": TaskNode("b", frozenset({"a"})),
        "c": TaskNode("c", frozenset({"a", "b"})),
    }
    assert downstream_map(tasks) == {
        "a": frozenset({"b", "c"}),
        "b": frozenset({"c"}),
        "c": frozenset(),
    }


# run_state, as Airflow's DagRun.update_state.


def chain(*rules: TriggerRule) -> dict[str, TaskNode]:
    """t0 >> t1 >> ... with the given trigger rules."""
    return {
        f"t{i}": TaskNode(f"t{i}", frozenset({f"t{i - 1}"}) if i else frozenset(), rule)
        for i, rule in enumerate(rules)
    }


DIAMOND = {
    "a": TaskNode("a", frozenset()),
    "b": TaskNode("b", frozenset({"a"})),
    "c": TaskNode("c", frozenset({"a"})),
    "d": TaskNode("d", frozenset({"b", "c"})),
    "e": TaskNode("e", frozenset({"a"})),  # a second leaf
}


@pytest.mark.parametrize(
    ("tasks", "states", "expected"),
    [
        pytest.param(DIAMOND, {}, None, id="fresh-run"),
        pytest.param(
            DIAMOND,
            {"a": [OK], "b": [OK], "c": [OK], "d": [OK], "e": [OK]},
            DagRunState.SUCCESS,
            id="all-success",
        ),
        pytest.param(
            DIAMOND,
            {"a": [OK], "b": [OK], "c": [OK], "d": [SKIPPED], "e": [SKIPPED]},
            DagRunState.SUCCESS,
            id="skipped-leaves-succeed",
        ),
        pytest.param(
            DIAMOND,
            {"a": [OK], "b": [FAIL], "c": [OK], "d": [UPF], "e": [RUNNING]},
            None,
            # A failed leaf does not end the run while another task still runs.
            id="failed-leaf-waits-for-others",
        ),
        pytest.param(
            DIAMOND,
            {"a": [OK], "b": [FAIL], "c": [OK], "d": [UPF], "e": [OK]},
            DagRunState.FAILED,
            id="upstream-failed-leaf",
        ),
        pytest.param(
            DIAMOND,
            {"a": [OK], "b": [OK], "c": [OK], "d": [OK], "e": [OK, FAIL, OK]},
            DagRunState.FAILED,
            id="one-failed-mapped-instance-of-a-leaf",
        ),
        pytest.param(
            chain(TR.ALL_SUCCESS, TR.ALL_DONE),
            {"t0": [FAIL], "t1": [OK]},
            DagRunState.SUCCESS,
            # Only leaves count: a failure that an all_done leaf absorbed is fine.
            id="failure-absorbed-by-all-done-leaf",
        ),
        pytest.param(
            DIAMOND,
            {"a": [OK], "b": [OK], "c": [OK], "d": [OK], "e": [REM]},
            DagRunState.SUCCESS,
            id="removed-leaf-ignored",
        ),
        pytest.param(
            DIAMOND,
            {"a": [OK], "b": [OK], "c": [OK], "d": [FAIL], "e": [REM]},
            DagRunState.FAILED,
            id="removed-leaf-ignored-failed-leaf-counts",
        ),
        pytest.param(
            chain(TR.ALL_SUCCESS, TR.ALL_SUCCESS),
            {"t0": [FAIL], "t1": [None]},
            None,
            # Not deadlocked: t1 is about to be flagged upstream_failed.
            id="pending-flag-is-progress",
        ),
        pytest.param(
            chain(TR.ALL_SUCCESS, TR.ALL_SKIPPED),
            {"t0": [SKIPPED, REM], "t1": [None]},
            DagRunState.FAILED,
            # all_skipped waits forever on a removed instance: Airflow deadlocks.
            id="deadlock",
        ),
        pytest.param(
            chain(TR.ALL_SUCCESS, TR.ALL_SUCCESS),
            {"t0": [TaskInstanceState.UP_FOR_RETRY], "t1": [None]},
            None,
            id="retrying-is-progress",
        ),
        pytest.param(
            chain(TR.ALL_SUCCESS, TR.ALL_SUCCESS, TR.ALL_SUCCESS),
            {"t0": [OK], "t1": [TaskInstanceState.QUEUED], "t2": [None]},
            None,
            id="queued-is-progress",
        ),
        pytest.param({}, {}, DagRunState.SUCCESS, id="empty-dag"),
    ],
)
def test_run_state(
    tasks: Mapping[str, TaskNode],
    states: Mapping[str, Sequence[TaskState]],
    expected: DagRunState | None,
) -> None:
    assert run_state(tasks, states) == expected


# Property tests over random DAGs and random states.


@st.composite
def dags(draw: st.DrawFn, max_tasks: int = 8) -> dict[str, TaskNode]:
    n = draw(st.integers(min_value=1, max_value=max_tasks))
    tasks: dict[str, TaskNode] = {}
    for i in range(n):
        ups = draw(st.sets(st.integers(min_value=0, max_value=i - 1), max_size=3)) if i else set()
        rule = draw(st.sampled_from(list(TriggerRule)))
        tasks[f"t{i}"] = TaskNode(f"t{i}", frozenset(f"t{j}" for j in ups), rule)
    return tasks


def state_lists(states: list[TaskState] = ALL_STATES) -> st.SearchStrategy[list[TaskState]]:
    return st.lists(st.sampled_from(states), min_size=1, max_size=3)


@st.composite
def dag_and_states(
    draw: st.DrawFn,
) -> tuple[dict[str, TaskNode], dict[str, list[TaskState]]]:
    tasks = draw(dags())
    return tasks, {task_id: draw(state_lists()) for task_id in tasks}


def is_pending(instances: Sequence[TaskState]) -> bool:
    return any(s is None or s is TaskInstanceState.SCHEDULED for s in instances)


@given(dag_and_states())
def test_decide_is_total_and_deterministic(
    case: tuple[dict[str, TaskNode], dict[str, list[TaskState]]],
) -> None:
    tasks, states = case
    decisions = decide(tasks, states)
    assert set(decisions) == {t for t in tasks if is_pending(states[t])}
    # Same input in another order, instances shuffled: same answer.
    reordered_tasks = dict(reversed(tasks.items()))
    reordered_states = {t: list(reversed(s)) for t, s in reversed(states.items())}
    assert decide(reordered_tasks, reordered_states) == decisions


@given(dag_and_states(), st.data())
def test_decisions_depend_only_on_direct_upstreams(
    case: tuple[dict[str, TaskNode], dict[str, list[TaskState]]], data: st.DataObject
) -> None:
    tasks, states = case
    decisions = decide(tasks, states)
    for task_id, decision in decisions.items():
        relevant = tasks[task_id].upstream | {task_id}
        others = {t: (s if t in relevant else data.draw(state_lists())) for t, s in states.items()}
        assert decide(tasks, others)[task_id] is decision


@given(dag_and_states(), st.data())
def test_unfinished_upstream_states_are_interchangeable(
    case: tuple[dict[str, TaskNode], dict[str, list[TaskState]]], data: st.DataObject
) -> None:
    tasks, states = case
    swap = {s: data.draw(st.sampled_from(UNFINISHED_STATES)) for s in UNFINISHED_STATES}
    swapped = {
        t: [swap.get(s, s) if s not in FINISHED_TASK_STATES else s for s in ss]
        for t, ss in states.items()
    }
    before = decide(tasks, states)
    after = decide(tasks, swapped)
    for task_id in before.keys() & after.keys():
        assert after[task_id] is before[task_id]


@given(
    st.sampled_from(list(TriggerRule)),
    st.lists(st.sampled_from(UNFINISHED_STATES), min_size=1, max_size=4),
)
def test_all_upstream_unfinished_waits_unless_always(
    rule: TriggerRule, upstream_states: list[TaskState]
) -> None:
    expected = D.RUN if rule is TR.ALWAYS else D.WAIT
    assert decide_one(rule, upstream_states) is expected


@given(
    st.sampled_from(list(TriggerRule)),
    st.lists(st.sampled_from(FINISHED_STATES), min_size=1, max_size=4),
)
def test_all_upstream_finished_never_waits(
    rule: TriggerRule, upstream_states: list[TaskState]
) -> None:
    decision = decide_one(rule, upstream_states)
    if (
        rule is TR.ALL_SKIPPED
        and REM in upstream_states
        and not {OK, FAIL, UPF} & set(upstream_states)
    ):
        # The one Airflow quirk: all_skipped waits forever on a removed instance.
        assert decision is D.WAIT
    else:
        assert decision is not D.WAIT


@given(
    st.sampled_from(list(TriggerRule)),
    st.lists(st.lists(st.sampled_from(ALL_STATES), min_size=1, max_size=3), min_size=1, max_size=3),
)
def test_mapped_upstream_equals_as_many_unmapped_upstreams(
    rule: TriggerRule, upstreams: list[list[TaskState]]
) -> None:
    flat = [s for instances in upstreams for s in instances]
    assert mapped(rule, *upstreams) is decide_one(rule, flat)


@given(dags(), st.data())
@settings(max_examples=200)
def test_simulated_runs_always_finish(tasks: dict[str, TaskNode], data: st.DataObject) -> None:
    # Apply decisions and random task outcomes until the run ends. Without
    # removed instances no rule waits forever, so no run deadlocks.
    states: dict[str, list[TaskState]] = {
        t: [None] * data.draw(st.integers(min_value=1, max_value=2)) for t in tasks
    }
    outcome = st.sampled_from([OK, OK, FAIL, SKIPPED])
    flags = {D.SKIP: SKIPPED, D.UPSTREAM_FAILED: UPF}
    for _ in range(len(tasks) + 1):
        result = run_state(tasks, states)
        if result is not None:
            break
        decisions = decide(tasks, states)
        assert any(d is not D.WAIT for d in decisions.values())
        for task_id, decision in decisions.items():
            if decision is D.RUN:
                states[task_id] = [data.draw(outcome) for _ in states[task_id]]
            elif decision in flags:
                states[task_id] = [flags[decision]] * len(states[task_id])
    else:
        pytest.fail("the run did not finish")
    assert all(s in FINISHED_TASK_STATES for ss in states.values() for s in ss)
    leaves = [t for t, down in downstream_map(tasks).items() if not down]
    leaf_failed = any(s in (FAIL, UPF) for t in leaves for s in states[t])
    assert result is (DagRunState.FAILED if leaf_failed else DagRunState.SUCCESS)


def test_decide_is_linear_on_a_wide_dag() -> None:
    # 2,000 tasks all downstream of one mapped task of 500 instances, plus a
    # 2,000-task chain: a quadratic implementation would take seconds.
    tasks = {"root": TaskNode("root", frozenset())}
    states: dict[str, list[TaskState]] = {"root": [OK] * 500}
    for i in range(2000):
        tasks[f"w{i}"] = TaskNode(f"w{i}", frozenset({"root"}))
        states[f"w{i}"] = [None]
        prev = f"c{i - 1}" if i else "root"
        tasks[f"c{i}"] = TaskNode(f"c{i}", frozenset({prev}), TR.ONE_SUCCESS)
        states[f"c{i}"] = [None]
    start = time.perf_counter()
    decisions = decide(tasks, states)
    run_state(tasks, states)
    assert time.perf_counter() - start < 0.5
    assert decisions["w0"] is D.RUN
    assert decisions["c0"] is D.RUN
    assert decisions["c1"] is D.WAIT
