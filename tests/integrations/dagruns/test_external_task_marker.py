"""ExternalTaskMarker: clearing a task also clears what other DAGs' runs do after it,
through the clearing action that the CLI, the REST API and the UI share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.cli_db.helpers import add_dag, add_run, move_run, move_ti, run_state, ti_states

from sluice import DAG
from sluice.actions.clearing import ClearPlan, apply_clear, plan_clear
from sluice.actions.common import ActionRefused, Actor
from sluice.core.errors import DagDefinitionError
from sluice.integrations.external_task import ExternalTaskMarker, ExternalTaskSensor
from sluice.operators import EmptyOperator
from sluice.store.engine import Store
from sluice.store.tables import AuditLog, TaskInstance

DAY = datetime(2024, 1, 1, tzinfo=UTC)
ACTOR = Actor("tester", "cli")


def _parent(**marker: Any) -> DAG:
    """start >> mark_child (-> child.wait_parent), and a task beside them."""
    marker.setdefault("external_dag_id", "child")
    marker.setdefault("external_task_id", "wait_parent")
    with DAG("parent", schedule="@daily", start_date=DAY) as dag:
        start = EmptyOperator(task_id="start")
        start >> ExternalTaskMarker(task_id="mark_child", **marker)
        EmptyOperator(task_id="aside")
    return dag


def _child(**marker: Any) -> DAG:
    """wait_parent >> work >> mark_grandchild (-> grandchild.wait_child); unrelated."""
    marker.setdefault("external_dag_id", "grandchild")
    marker.setdefault("external_task_id", "wait_child")
    with DAG("child", schedule="@daily", start_date=DAY, default_args={"retries": 2}) as dag:
        wait = ExternalTaskSensor(
            task_id="wait_parent", external_dag_id="parent", external_task_id="mark_child"
        )
        wait >> EmptyOperator(task_id="work") >> ExternalTaskMarker(task_id="mark_next", **marker)
        EmptyOperator(task_id="unrelated")
    return dag


def _grandchild() -> DAG:
    with DAG("grandchild", schedule="@daily", start_date=DAY) as dag:
        EmptyOperator(task_id="wait_child") >> EmptyOperator(task_id="report")
    return dag


def _done(store: Store, dag: DAG, *dates: datetime) -> str:
    """Store the DAG and a finished, successful run of it at each date (default DAY);
    returns the first run's id."""
    stored = add_dag(store, dag)
    run_ids = []
    for when in dates or (DAY,):
        run_id = add_run(store, stored, when)
        move_run(store, dag.dag_id, run_id, "running")
        for task_id in dag.task_dict:
            move_ti(store, dag.dag_id, run_id, task_id, "success")
        move_run(store, dag.dag_id, run_id, "success")
        run_ids.append(run_id)
    return run_ids[0]


def _keys(pairs: list[Any]) -> list[tuple[str, str]]:
    return sorted((ti.dag_id, ti.task_id) for ti, _ in pairs)


def test_clearing_downstream_of_a_marker_clears_the_other_dags_recursively(
    store: Store,
) -> None:
    parent = _done(store, _parent())
    child = _done(store, _child())
    grandchild = _done(store, _grandchild())

    with store.transaction() as session:
        plan = plan_clear(session, "parent", ["start"], downstream=True)
        assert _keys(plan.chosen) == [
            ("child", "mark_next"), ("child", "wait_parent"), ("child", "work"),
            ("grandchild", "report"), ("grandchild", "wait_child"),
            ("parent", "mark_child"), ("parent", "start"),
        ]  # fmt: skip
        assert _keys(plan.external) == _keys(plan.chosen)[:5]
        assert sorted(plan.external_dags) == ["child", "grandchild"]
        assert plan.notes == []
        result = apply_clear(session, ACTOR, plan)

    assert len(result.cleared) == 7
    assert sorted(result.requeued_runs) == sorted([parent, child, grandchild])
    assert ti_states(store, "child", child) == {
        "wait_parent": None, "work": None, "mark_next": None, "unrelated": "success",
    }  # fmt: skip
    assert set(ti_states(store, "grandchild", grandchild).values()) == {None}
    assert ti_states(store, "parent", parent)["aside"] == "success"
    assert run_state(store, "child", child) == "queued"
    with store.transaction() as session:
        rows = session.execute(select(AuditLog.event, AuditLog.dag_id, AuditLog.extra))
        audit = sorted((event, dag_id, extra) for event, dag_id, extra in rows)
    assert [(event, dag_id) for event, dag_id, _ in audit] == [
        ("cli_tasks_clear", "child"), ("cli_tasks_clear", "grandchild"),
        ("cli_tasks_clear", "parent"),
    ]  # fmt: skip
    assert '"through_external_task_marker_of": "parent"' in (audit[0][2] or "")


def test_a_cleared_external_task_gets_its_own_dags_retries(store: Store) -> None:
    _done(store, _parent())
    child = _done(store, _child())
    with store.transaction() as session:
        plan = plan_clear(session, "parent", ["mark_child"])
        # A front end that narrows the plan rebuilds it without the other DAGs.
        apply_clear(session, ACTOR, ClearPlan(dag=plan.dag, chosen=plan.chosen, running=[]))
    with store.transaction() as session:
        ti = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == "child", TaskInstance.task_id == "work"
            )
        ).one()
    # One try made, and the child DAG's two retries again.
    assert (ti.run_id, ti.state, ti.try_number, ti.max_tries) == (child, None, 1, 3)


def test_not_recursive_stays_in_the_dag(store: Store) -> None:
    _done(store, _parent())
    _done(store, _child())
    with store.transaction() as session:
        plan = plan_clear(session, "parent", ["start"], downstream=True, recursive=False)
    assert _keys(plan.chosen) == [("parent", "mark_child"), ("parent", "start")]


def test_the_first_markers_recursion_depth_bounds_the_clear(store: Store) -> None:
    _done(store, _parent(recursion_depth=1))
    _done(store, _child())
    _done(store, _grandchild())
    with (
        store.transaction() as session,
        pytest.raises(
            ActionRefused,
            match=r"maximum recursion depth 1 reached at ExternalTaskMarker 'mark_next' of"
            r" DAG 'child'",
        ),
    ):
        plan_clear(session, "parent", ["start"], downstream=True)


def test_a_cycle_of_markers_ends(store: Store) -> None:
    _done(store, _parent())
    _done(store, _child(external_dag_id="parent", external_task_id="start"))
    with store.transaction() as session:
        plan = plan_clear(session, "parent", ["mark_child"])
    assert _keys(plan.chosen) == [
        ("child", "mark_next"), ("child", "wait_parent"), ("child", "work"),
        ("parent", "mark_child"), ("parent", "start"),
    ]  # fmt: skip


def test_a_templated_logical_date_picks_the_other_run(store: Store) -> None:
    yesterday = "{{ (logical_date - macros.timedelta(days=1)).isoformat() }}"
    _done(store, _parent(logical_date=yesterday), DAY + timedelta(days=1))
    child_yesterday = _done(store, _child(), DAY, DAY + timedelta(days=1))
    with store.transaction() as session:
        plan = plan_clear(session, "parent", ["mark_child"])
    assert {(ti.task_id, ti.run_id) for ti, _ in plan.external} == {
        (task_id, child_yesterday) for task_id in ("wait_parent", "work", "mark_next")
    }


def test_a_marker_template_reads_the_runs_params(store: Store) -> None:
    with DAG("parent", schedule="@daily", start_date=DAY, params={"day": "2024-01-01"}) as dag:
        ExternalTaskMarker(
            task_id="mark_child", external_dag_id="child", external_task_id="wait_parent",
            logical_date="{{ params.day }}T00:00:00+00:00",
        )  # fmt: skip
    _done(store, dag, DAY + timedelta(days=3))
    child = _done(store, _child())
    with store.transaction() as session:
        plan = plan_clear(session, "parent", ["mark_child"])
    assert {ti.run_id for ti, _ in plan.external} == {child}


@pytest.mark.parametrize(
    ("marker", "note"),
    [
        ({"external_dag_id": "nobody"}, "DAG 'nobody' is not in the database"),
        ({"external_task_id": "wiat_parent"}, "DAG 'child' has no task 'wiat_parent'"),
        (
            {"logical_date": "2023-06-01T00:00:00+00:00"},
            "DAG 'child' has no run at logical date 2023-06-01T00:00:00+00:00",
        ),
        ({"logical_date": "{{ params.when }}"}, "'dict object' has no attribute 'when'"),
        ({"logical_date": "{{ ds }} at noon"}, "rendered as '2024-01-01 at noon', not an ISO"),
    ],
)
def test_a_marker_that_leads_nowhere_is_a_note(
    store: Store, marker: dict[str, Any], note: str
) -> None:
    _done(store, _parent(**marker))
    _done(store, _child())
    with store.transaction() as session:
        plan = plan_clear(session, "parent", ["start"], downstream=True)
    assert _keys(plan.chosen) == [("parent", "mark_child"), ("parent", "start")]
    (text,) = plan.notes
    assert text.startswith("ExternalTaskMarker 'mark_child' of DAG 'parent' (run '")
    assert note in text


def test_a_running_external_instance_is_left_alone(store: Store) -> None:
    _done(store, _parent())
    stored = add_dag(store, _child())
    run_id = add_run(store, stored, DAY)
    move_ti(store, "child", run_id, "wait_parent", "running")
    with store.transaction() as session:
        plan = plan_clear(session, "parent", ["mark_child"])
    assert _keys(plan.running) == [("child", "wait_parent")]
    assert _keys(plan.chosen) == [("parent", "mark_child")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"recursion_depth": 0}, "recursion_depth must be a positive integer"),
        ({"recursion_depth": True}, "recursion_depth must be a positive integer"),
        ({"logical_date": 20240101}, "logical_date must be a datetime or text"),
        ({"external_task_id": ""}, "external_task_id must be a non-empty string"),
    ],
)
def test_bad_marker_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DagDefinitionError, match=message):
        _parent(**kwargs)


def test_the_marker_keeps_airflows_fields_and_does_nothing_when_run() -> None:
    marker = _parent(logical_date=DAY).task_dict["mark_child"]
    assert isinstance(marker, ExternalTaskMarker)
    assert marker.logical_date == "2024-01-01T00:00:00+00:00"
    assert marker.template_fields[:3] == ("external_dag_id", "external_task_id", "logical_date")
    assert marker.execute({}) is None
