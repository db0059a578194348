from __future__ import annotations

from typing import Any

import pytest

from sluice import DAG, TaskGroup
from sluice.core.states import TaskInstanceState
from sluice.operators import (
    BranchPythonOperator,
    EmptyOperator,
    PythonOperator,
    ShortCircuitOperator,
)
from sluice.runner.xcom import pull_one

S = TaskInstanceState


# -- PythonOperator ------------------------------------------------------------------------


def test_op_args_and_op_kwargs(make_run) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:
        PythonOperator(
            task_id="p",
            python_callable=lambda a, b, *, c: seen.append((a, b, c)) or "done",
            op_args=[1, "{{ ds }}"],
            op_kwargs={"c": "{{ ds_nodash }}"},
        )
    run = make_run(dag)
    assert run.execute().state == "success"
    assert seen == [(1, "2024-03-15", "20240315")]
    assert pull_one(run.xcom, "p", -1, "return_value") == "done"


def test_templates_dict_is_rendered_and_in_context(make_run) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []

    def by_name(templates_dict: dict[str, Any]) -> None:
        seen.append(templates_dict)

    def by_context(**context: Any) -> None:
        seen.append(context["templates_dict"])

    with DAG("d") as dag:
        for fn in (by_name, by_context):
            PythonOperator(
                task_id=fn.__name__, python_callable=fn, templates_dict={"day": "{{ ds }}"}
            )
    make_run(dag).execute()
    assert seen == [{"day": "2024-03-15"}, {"day": "2024-03-15"}]


def test_context_by_parameter_name(make_run) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []

    def fn(x: int, ti: Any, logical_date: Any, dag_run: Any) -> None:
        seen.append((x, ti.task_id, logical_date.day, dag_run.run_type))

    with DAG("d") as dag:
        PythonOperator(task_id="p", python_callable=fn, op_kwargs={"x": 1})
    make_run(dag).execute()
    assert seen == [(1, "p", 15, "manual")]


def test_context_with_var_keyword(make_run) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []

    def fn(**context: Any) -> None:
        seen.append(sorted(k for k in ("ds", "ti", "params", "run_id") if k in context))

    with DAG("d") as dag:
        PythonOperator(task_id="p", python_callable=fn)
    make_run(dag).execute()
    assert seen == [["ds", "params", "run_id", "ti"]]


def test_explicit_arguments_win_over_context(make_run) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:
        PythonOperator(
            task_id="p",
            python_callable=lambda ds, run_id: seen.append((ds, run_id)),
            op_args=["mine"],
            op_kwargs={"run_id": "also mine"},
        )
    make_run(dag).execute()
    assert seen == [("mine", "also mine")]


def test_callable_without_parameters_gets_no_context(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        PythonOperator(task_id="p", python_callable=lambda: 5)
    run = make_run(dag)
    assert run.execute().state == "success"
    assert pull_one(run.xcom, "p", -1, "return_value") == 5


def test_exception_fails_the_task(make_run) -> None:  # type: ignore[no-untyped-def]
    def boom() -> None:
        raise KeyError("missing")

    with DAG("d") as dag:
        PythonOperator(task_id="p", python_callable=boom)
    (record,) = make_run(dag).execute().instances
    assert record.state is S.FAILED
    assert record.error == "KeyError: 'missing'"


def test_non_json_return_value_fails_with_xcom_error(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        PythonOperator(task_id="p", python_callable=lambda: {1, 2})
    (record,) = make_run(dag).execute().instances
    assert record.state is S.FAILED
    assert "XComError" in (record.error or "")
    assert "task 'p'" in (record.error or "")


# -- BranchPythonOperator -------------------------------------------------------------------


def branch_dag(choice: Any) -> DAG:
    with DAG("d") as dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: choice)
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b")
        c = EmptyOperator(task_id="c")
        after_a = EmptyOperator(task_id="after_a")
        join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
        branch >> [a, b, c]
        a >> after_a
        [after_a, b, c] >> join
    return dag


def test_branch_follows_one_task(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    assert states(run_dag(branch_dag("a"))) == {
        "branch": S.SUCCESS,
        "a": S.SUCCESS,
        "after_a": S.SUCCESS,
        "b": S.SKIPPED,
        "c": S.SKIPPED,
        "join": S.SUCCESS,
    }


def test_branch_follows_a_list(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    result = states(run_dag(branch_dag(["b", "c"])))
    assert (result["a"], result["after_a"], result["b"], result["c"], result["join"]) == (
        S.SKIPPED,
        S.SKIPPED,
        S.SUCCESS,
        S.SUCCESS,
        S.SUCCESS,
    )


def test_branch_none_skips_every_direct_downstream(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    result = run_dag(branch_dag(None))
    assert states(result) == {
        "branch": S.SUCCESS,
        "a": S.SKIPPED,
        "after_a": S.SKIPPED,
        "b": S.SKIPPED,
        "c": S.SKIPPED,
        "join": S.SKIPPED,
    }
    assert result.state == "success"


def test_branch_invalid_id_fails_the_task(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    result = run_dag(branch_dag("nope"))
    assert states(result)["branch"] is S.FAILED
    error = next(r.error for r in result.instances if r.task_id == "branch")
    assert "branch returned 'nope', which is not a task or group of DAG 'd'" in (error or "")
    assert states(result)["a"] is S.UPSTREAM_FAILED
    assert result.state == "failed"


def test_branch_non_string_fails(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    assert states(run_dag(branch_dag([1])))["branch"] is S.FAILED


def test_branch_to_a_task_group_follows_its_roots(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "grp")
        with TaskGroup("grp") as grp:
            first = EmptyOperator(task_id="first")
            second = EmptyOperator(task_id="second")
            first >> second
        other = EmptyOperator(task_id="other")
        branch >> [grp, other]
    assert states(run_dag(dag)) == {
        "branch": S.SUCCESS,
        "grp.first": S.SUCCESS,
        "grp.second": S.SUCCESS,
        "other": S.SKIPPED,
    }


def test_branch_with_direct_join_keeps_the_join(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    # branch >> a >> join and branch >> join: choosing a must not skip join (Airflow's rule).
    with DAG("d") as dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "a")
        a = EmptyOperator(task_id="a")
        join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
        branch >> a >> join
        branch >> join
    assert states(run_dag(dag)) == {"branch": S.SUCCESS, "a": S.SUCCESS, "join": S.SUCCESS}


def test_branch_pushes_its_choice(make_run) -> None:  # type: ignore[no-untyped-def]
    run = make_run(branch_dag("a"))
    run.execute()
    assert pull_one(run.xcom, "branch", -1, "return_value") == "a"


# -- ShortCircuitOperator -------------------------------------------------------------------


def short_circuit_dag(condition: Any, ignore: bool) -> DAG:
    with DAG("d") as dag:
        check = ShortCircuitOperator(
            task_id="check",
            python_callable=lambda: condition,
            ignore_downstream_trigger_rules=ignore,
        )
        direct = EmptyOperator(task_id="direct")
        later = EmptyOperator(task_id="later")
        done = EmptyOperator(task_id="done", trigger_rule="all_done")
        check >> direct >> later >> done
    return dag


@pytest.mark.parametrize("ignore", [True, False])
def test_truthy_condition_runs_everything(run_dag, states, ignore: bool) -> None:  # type: ignore[no-untyped-def]
    assert set(states(run_dag(short_circuit_dag([1], ignore))).values()) == {S.SUCCESS}


def test_falsy_condition_skips_everything_downstream(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    result = run_dag(short_circuit_dag("", True))
    assert states(result) == {
        "check": S.SUCCESS,
        "direct": S.SKIPPED,
        "later": S.SKIPPED,
        "done": S.SKIPPED,
    }
    assert result.state == "success"


def test_falsy_condition_respecting_trigger_rules(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    assert states(run_dag(short_circuit_dag(None, False))) == {
        "check": S.SUCCESS,
        "direct": S.SKIPPED,
        "later": S.SKIPPED,
        "done": S.SUCCESS,
    }


def test_short_circuit_pushes_condition(make_run) -> None:  # type: ignore[no-untyped-def]
    run = make_run(short_circuit_dag(0, True))
    run.execute()
    assert pull_one(run.xcom, "check", -1, "return_value") == 0


# -- EmptyOperator ---------------------------------------------------------------------------


def test_empty_operator_succeeds_and_pushes_nothing(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        EmptyOperator(task_id="e")
    run = make_run(dag)
    result = run.execute()
    assert result.state == "success"
    assert run.xcom.values == {}
