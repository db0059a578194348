from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from sluice import DAG, TaskGroup, XComArg, task, task_group
from sluice.core.errors import DagDefinitionError
from sluice.core.states import TaskInstanceState
from sluice.operators import EmptyOperator
from sluice.runner.xcom import pull_one
from sluice.sdk.context import CONTEXT_KEYS

S = TaskInstanceState


def test_task_return_value_goes_to_xcom(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:

        @task
        def produce() -> int:
            return 41

        @task
        def nothing() -> None:
            pass

        produce()
        nothing()
    run = make_run(dag)
    run.execute()
    assert pull_one(run.xcom, "produce", -1, "return_value") == 41
    assert run.xcom.get("nothing", -1, "return_value") is None  # None is not pushed


def test_passing_results_creates_dependencies_and_values(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:

        @task
        def extract() -> list[int]:
            return [1, 2, 3]

        @task
        def transform(values: list[int], factor: int) -> int:
            return sum(values) * factor

        @task
        def load(total: int) -> None:
            seen.append(total)

        load(transform(extract(), factor=10))
    assert dag.get_task("transform").upstream_task_ids == {"extract"}
    assert dag.get_task("load").upstream_task_ids == {"transform"}
    result = run_dag(dag)
    assert result.state == "success"
    assert seen == [60]


def test_multiple_outputs_explicit(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d"):

        @task(multiple_outputs=True)
        def split() -> Any:
            return {"a": 1, "b": "two"}

        @task
        def use(a: int, b: str, whole: dict[str, Any]) -> None:
            seen.append((a, b, whole))

        out = split()
        use(out["a"], out["b"], out)
    assert run_dag(out.operator.dag).state == "success"
    assert seen == [(1, "two", {"a": 1, "b": "two"})]


def test_multiple_outputs_inferred_from_dict_annotation() -> None:
    with DAG("d"):

        @task
        def typed() -> dict[str, int]:
            return {"a": 1}

        @task
        def plain() -> int:
            return 1

        @task(multiple_outputs=False)
        def opted_out() -> dict[str, int]:
            return {"a": 1}

        @task
        def mapping() -> Mapping[str, int]:
            return {"a": 1}

        t, p, o = typed(), plain(), opted_out()
    assert mapping().operator.multiple_outputs is True
    assert t.operator.multiple_outputs is True
    assert p.operator.multiple_outputs is False
    assert o.operator.multiple_outputs is False


def test_multiple_outputs_with_non_dict_fails(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:

        @task(multiple_outputs=True)
        def bad() -> Any:
            return [1, 2]

        bad()
    result = run_dag(dag)
    assert states(result) == {"bad": S.FAILED}
    assert "multiple_outputs" in (result.instances[0].error or "")


def test_result_getitem_pulls_a_key(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:

        @task
        def push(ti: Any = None) -> None:
            ti.xcom_push(key="custom", value=[1, 2])

        @task
        def show(value: Any) -> None:
            seen.append(value)

        show(push()["custom"])
    run_dag(dag)
    assert seen == [[1, 2]]


def test_calling_the_same_task_twice_gives_suffixed_ids() -> None:
    with DAG("d") as dag:

        @task
        def step() -> None:
            pass

        a, b, c = step(), step(), step()
    assert [x.operator.task_id for x in (a, b, c)] == ["step", "step__1", "step__2"]
    assert dag.task_ids == ["step", "step__1", "step__2"]


def test_suffixes_inside_a_group() -> None:
    with DAG("d") as dag:

        @task
        def step() -> None:
            pass

        step()
        with TaskGroup("g"):
            step()
            step()
    assert dag.task_ids == ["step", "g.step", "g.step__1"]


def test_override_task_id_and_arguments() -> None:
    with DAG("d") as dag:

        @task(retries=1)
        def step() -> None:
            pass

        step.override(task_id="first")()
        out = step.override(task_id="second", retries=5, owner="me")()
    assert dag.task_ids == ["first", "second"]
    assert (out.operator.retries, out.operator.owner) == (5, "me")
    assert dag.get_task("first").retries == 1


def test_task_decorator_arguments_and_doc() -> None:
    with DAG("d", default_args={"owner": "team"}):

        @task(task_id="renamed", trigger_rule="all_done")
        def step() -> None:
            """Step docs."""

        out = step()
    op = out.operator
    assert (op.task_id, op.trigger_rule, op.owner, op.doc_md) == (
        "renamed",
        "all_done",
        "team",
        "Step docs.",
    )


def test_calling_with_wrong_arguments_is_a_definition_error() -> None:
    with DAG("d"):

        @task
        def step(a: int) -> None:
            pass

        with pytest.raises(DagDefinitionError, match=r"task 'step'.*unexpected keyword"):
            step(a=1, b=2)


def test_context_arguments_may_be_left_out(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:

        @task
        def step(x: int, ds: str, ti: Any, **context: Any) -> None:
            seen.append((x, ds, ti.task_id, context["run_id"]))

        step(1)
    run_dag(dag)
    assert seen == [(1, "2024-03-15", "step", "manual__2024-03-15T00:00:00+00:00")]


def test_missing_argument_is_a_definition_error() -> None:
    with DAG("d") as dag:

        @task
        def needs(a: int, b: int) -> None:
            pass

        with pytest.raises(
            DagDefinitionError, match=r"^task 'needs': missing required argument 'b'$"
        ):
            needs(1)
        with pytest.raises(DagDefinitionError, match=r"task 'renamed': .* arguments 'a', 'b'$"):
            needs.override(task_id="renamed")()
    assert not dag.task_dict  # refused before the task was made


def test_context_names_are_the_only_ones_that_may_be_left_out() -> None:
    with DAG("d") as dag:

        @task
        def step(ti: Any, x: int, params: Any, *args: Any, **kwargs: Any) -> None:
            pass

        step(x=1)
        with pytest.raises(DagDefinitionError, match="missing required argument 'x'"):
            step()
    assert list(dag.task_dict) == ["step"]


def test_expand_with_a_missing_argument_is_a_definition_error() -> None:
    with DAG("d"):

        @task
        def each(a: int, b: int, ds: str) -> None:
            pass

        each.partial(b=1).expand(a=[1, 2])
        with pytest.raises(DagDefinitionError, match=r"task 'each': missing required argument 'b'"):
            each.expand(a=[1, 2])


def test_context_keys_are_what_a_task_can_ask_for(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[set[str]] = []
    with DAG("d") as dag:

        @task
        def step(**context: Any) -> None:
            seen.append(set(context))

        step()
    run_dag(dag)
    assert seen == [set(CONTEXT_KEYS)]


def test_task_called_outside_dag_has_no_dag() -> None:
    @task
    def step() -> None:
        pass

    out = step()
    assert isinstance(out, XComArg)
    assert out.operator.dag is None


def test_task_python_alias() -> None:
    with DAG("d") as dag:

        @task.python
        def step() -> int:
            return 1

        step()
    assert dag.task_ids == ["step"]


def test_task_needs_a_function() -> None:
    with pytest.raises(DagDefinitionError, match="needs a function"):
        task(42)  # type: ignore[arg-type]


# -- @task.branch ------------------------------------------------------------------------


def test_task_branch(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:

        @task.branch
        def choose() -> str:
            return "left"

        left = EmptyOperator(task_id="left")
        right = EmptyOperator(task_id="right")
        join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
        choose() >> [left, right] >> join
    assert states(run_dag(dag)) == {
        "choose": S.SUCCESS,
        "left": S.SUCCESS,
        "right": S.SKIPPED,
        "join": S.SUCCESS,
    }


def test_task_branch_return_value_is_pushed(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:

        @task.branch
        def choose() -> list[str]:
            return ["a"]

        choose() >> [EmptyOperator(task_id="a"), EmptyOperator(task_id="b")]
    run = make_run(dag)
    run.execute()
    assert pull_one(run.xcom, "choose", -1, "return_value") == ["a"]


# -- @task.short_circuit ------------------------------------------------------------------


@pytest.mark.parametrize(("value", "downstream"), [(True, S.SUCCESS), (0, S.SKIPPED)])
def test_task_short_circuit(run_dag, states, value: Any, downstream: Any) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:

        @task.short_circuit
        def check() -> Any:
            return value

        check() >> EmptyOperator(task_id="after") >> EmptyOperator(task_id="later")
    assert states(run_dag(dag)) == {"check": S.SUCCESS, "after": downstream, "later": downstream}


def test_task_short_circuit_respecting_trigger_rules(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:

        @task.short_circuit(ignore_downstream_trigger_rules=False)
        def check() -> bool:
            return False

        (
            check()
            >> EmptyOperator(task_id="after")
            >> EmptyOperator(task_id="done", trigger_rule="all_done")
        )
    assert states(run_dag(dag)) == {"check": S.SUCCESS, "after": S.SKIPPED, "done": S.SUCCESS}


# -- @task.bash ---------------------------------------------------------------------------


def test_task_bash_runs_returned_templated_command(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:

        @task.bash
        def say(word: str) -> str:
            return f"echo {word} {{{{ ds }}}}"

        @task
        def show(line: str) -> None:
            seen.append(line)

        show(say("hi"))
    assert run_dag(dag).state == "success"
    assert seen == ["hi 2024-03-15"]


def test_task_bash_bad_return_fails(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:

        @task.bash
        def nothing() -> Any:
            return None

        nothing()
    result = run_dag(dag)
    assert states(result) == {"nothing": S.FAILED}
    assert "non-empty command" in (result.instances[0].error or "")


def test_task_bash_exit_code_99_skips(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:

        @task.bash
        def skip() -> str:
            return "exit 99"

        skip()
    assert states(run_dag(dag)) == {"skip": S.SKIPPED}


# -- @task_group ---------------------------------------------------------------------------


def test_task_group_with_taskflow_runs(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:

        @task
        def start() -> int:
            return 2

        @task_group
        def math_group(n: int) -> XComArg:
            @task
            def square(v: int) -> int:
                return v * v

            @task
            def plus_one(v: int) -> int:
                return v + 1

            return plus_one(square(n))

        @task
        def end(v: int) -> None:
            seen.append(v)

        end(math_group(start()))
    assert set(dag.task_ids) == {"start", "math_group.square", "math_group.plus_one", "end"}
    assert run_dag(dag).state == "success"
    assert seen == [5]


def test_task_bash_returning_a_script_file(make_run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "job.sh").write_text("echo job for {{ ds }}\n")
    dag_file = tmp_path / "dag.py"
    dag_file.write_text("")
    with DAG("d", fileloc=str(dag_file)) as dag:

        @task.bash
        def job() -> str:
            return "job.sh"

        job()
    run = make_run(dag)
    assert run.execute().state == "success"
    assert pull_one(run.xcom, "job", -1, "return_value") == "job for 2024-03-15"
