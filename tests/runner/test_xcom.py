from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from sluice import DAG, task
from sluice.core.errors import XComError
from sluice.core.states import TaskInstanceState
from sluice.operators import EmptyOperator, PythonOperator
from sluice.runner.task_instance import RuntimeTaskInstance
from sluice.runner.xcom import MemoryXComStore, pull_one, push

S = TaskInstanceState


@pytest.fixture
def ti_for() -> Any:
    """A RuntimeTaskInstance of a task in a small DAG, sharing one XCom store."""
    with DAG("d") as dag:
        for name in ("a", "b", "c"):
            EmptyOperator(task_id=name)
        EmptyOperator.partial(task_id="m").expand(doc=["x", "y", "z"])
    store = MemoryXComStore()

    def make(task_id: str, map_index: int = -1) -> RuntimeTaskInstance:
        return RuntimeTaskInstance(
            dag=dag, task=dag.get_task(task_id), run_id="r", xcom=store, map_index=map_index
        )

    return make


def test_push_and_pull_by_task_and_key(ti_for) -> None:  # type: ignore[no-untyped-def]
    ti_for("a").xcom_push("k", {"rows": [1, 2]})
    ti_for("a").xcom_push("return_value", 7)
    b = ti_for("b")
    assert b.xcom_pull(task_ids="a", key="k") == {"rows": [1, 2]}
    assert b.xcom_pull(task_ids="a") == 7
    assert b.xcom_pull("a") == 7


def test_pull_accepts_this_dag_and_run(ti_for) -> None:  # type: ignore[no-untyped-def]
    ti_for("a").xcom_push("k", 1)
    b = ti_for("b")
    assert b.xcom_pull("a", "d", "k") == 1  # Airflow's positional order: dag_id second
    assert b.xcom_pull(task_ids="a", dag_id="d", key="k", run_id="r") == 1
    assert b.xcom_pull(task_ids="a", key="k", include_prior_dates=False) == 1


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"dag_id": "other"}, "dag_id='other' (another DAG)"),
        ({"run_id": "earlier"}, "run_id='earlier' (another run)"),
        ({"include_prior_dates": True}, "include_prior_dates=True"),
        ({"session": None}, "argument(s) 'session'"),
    ],
)
def test_pull_outside_this_run_is_refused(ti_for, kwargs: dict[str, Any], named: str) -> None:  # type: ignore[no-untyped-def]
    ti_for("a").xcom_push("k", 1)
    with pytest.raises(XComError) as caught:
        ti_for("b").xcom_pull(task_ids="a", key="k", **kwargs)
    assert str(caught.value).startswith(f"task 'b': xcom_pull {named}")
    assert str(caught.value).endswith("not supported in a local run yet")


def test_pull_list_of_task_ids(ti_for) -> None:  # type: ignore[no-untyped-def]
    ti_for("a").xcom_push("return_value", 1)
    ti_for("b").xcom_push("return_value", 2)
    assert ti_for("c").xcom_pull(task_ids=["a", "b", "c"]) == [1, 2, None]


def test_pull_missing_gives_default(ti_for) -> None:  # type: ignore[no-untyped-def]
    c = ti_for("c")
    assert c.xcom_pull(task_ids="a") is None
    assert c.xcom_pull(task_ids="a", key="nope", default="dflt") == "dflt"


def test_pull_without_task_ids_reads_own_task(ti_for) -> None:  # type: ignore[no-untyped-def]
    a = ti_for("a")
    a.xcom_push("k", "mine")
    assert a.xcom_pull(key="k") == "mine"


def test_pull_mapped_task(ti_for) -> None:  # type: ignore[no-untyped-def]
    for i, value in enumerate(["x", "y", "z"]):
        ti_for("m", i).xcom_push("return_value", value)
    b = ti_for("b")
    assert b.xcom_pull(task_ids="m") == ["x", "y", "z"]
    assert b.xcom_pull(task_ids="m", map_indexes=1) == "y"
    assert b.xcom_pull(task_ids="m", map_indexes=[2, 0]) == ["z", "x"]
    assert b.xcom_pull(task_ids="m", map_indexes=5, default="none") == "none"


def test_push_key_must_be_a_non_empty_string(ti_for) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(XComError, match="task 'a': an XCom key must be a non-empty string"):
        ti_for("a").xcom_push("", 1)


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ({1, 2}, "value is of type set, which cannot be stored in XCom"),
        (object(), "value is of type object"),
        ({"k": {1}}, r"value\['k'\] is of type set"),
        ([1, b"x"], r"value\[1\] is of type bytes"),
        ({1: "a"}, "value has the key 1"),
        (float("nan"), "value is nan"),
    ],
)
def test_non_json_values_raise_xcom_error_naming_the_task(ti_for, value: Any, what: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(XComError, match=rf"XCom 'k' of task 'a': {what}"):
        ti_for("a").xcom_push("k", value)


def test_mapped_xcom_error_names_the_map_index(ti_for) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(XComError, match=r"task 'm'\[2\]"):
        ti_for("m", 2).xcom_push("k", {1})


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 3, 15, 1, 2, 3, 456, tzinfo=UTC),
        datetime(2024, 3, 15),
        date(2024, 2, 29),
        timedelta(days=1, seconds=1.5),
        {"when": datetime(2024, 1, 1, tzinfo=UTC), "nested": [date(2024, 1, 2)]},
        (1, 2),
        None,
        "text",
        3.5,
        True,
    ],
)
def test_values_round_trip(ti_for, value: Any) -> None:  # type: ignore[no-untyped-def]
    ti_for("a").xcom_push("k", value)
    pulled = ti_for("b").xcom_pull(task_ids="a", key="k")
    expected = list(value) if isinstance(value, tuple) else value
    assert pulled == expected
    assert type(pulled) is type(expected)


def test_store_clear_and_indexes() -> None:
    store = MemoryXComStore()
    push(store, "t", 1, "k", 1, where="x")
    push(store, "t", 0, "k", 0, where="x")
    push(store, "t", 0, "other", 0, where="x")
    assert store.map_indexes("t", "k") == [0, 1]
    store.clear("t", 0)
    assert store.map_indexes("t", "k") == [1]
    assert pull_one(store, "t", 0, "other") is None


def test_push_result_multiple_outputs(ti_for) -> None:  # type: ignore[no-untyped-def]
    a = ti_for("a")
    a.push_result({"x": 1, "y": [2]}, multiple_outputs=True)
    assert a.xcom_pull(key="x") == 1
    assert a.xcom_pull(key="y") == [2]
    assert a.xcom_pull() == {"x": 1, "y": [2]}
    with pytest.raises(XComError, match="multiple_outputs=True but returned a value of type list"):
        a.push_result([1], multiple_outputs=True)
    with pytest.raises(XComError, match="key 1 is not a string"):
        a.push_result({1: 2}, multiple_outputs=True)


def test_runtime_task_instance_properties(ti_for) -> None:  # type: ignore[no-untyped-def]
    ti = ti_for("m", 1)
    assert (ti.dag_id, ti.task_id, ti.map_index, ti.max_tries) == ("d", "m", 1, 0)
    assert ti.duration is None
    assert repr(ti) == "<TaskInstance d.m [1] r try 1>"


# -- through a run -------------------------------------------------------------------------


def test_xcom_push_pull_between_tasks_in_a_run(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []

    def produce(ti: Any) -> str:
        ti.xcom_push(key="when", value=datetime(2024, 1, 1, tzinfo=UTC))
        return "returned"

    def consume(ti: Any) -> None:
        seen.append(
            (
                ti.xcom_pull(task_ids="produce"),
                ti.xcom_pull(task_ids="produce", key="when"),
                ti.xcom_pull(task_ids=["produce"], key="return_value"),
            )
        )

    with DAG("d") as dag:
        PythonOperator(task_id="produce", python_callable=produce) >> PythonOperator(
            task_id="consume", python_callable=consume
        )
    assert run_dag(dag).state == "success"
    assert seen == [("returned", datetime(2024, 1, 1, tzinfo=UTC), ["returned"])]


def test_non_json_return_value_fails_the_task_with_its_name(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    class Thing:
        pass

    with DAG("d") as dag:

        @task
        def make() -> Any:
            return Thing()

        make()
    result = run_dag(dag)
    assert states(result) == {"make": S.FAILED}
    assert "XCom 'return_value' of task 'make': value is of type Thing" in (
        result.instances[0].error or ""
    )


def test_do_xcom_push_false_skips_the_check(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        PythonOperator(task_id="p", python_callable=lambda: {1, 2}, do_xcom_push=False)
    assert states(run_dag(dag)) == {"p": S.SUCCESS}
