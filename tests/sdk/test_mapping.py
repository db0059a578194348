from __future__ import annotations

from typing import Any

import pytest

from sluice import DAG, task
from sluice.core.errors import DagDefinitionError
from sluice.core.states import TaskInstanceState
from sluice.operators import BashOperator, EmptyOperator, PythonOperator
from sluice.runner.xcom import pull_one
from sluice.sdk.mapping import MappedOperator

S = TaskInstanceState


def test_classic_operator_partial_expand_over_literal_list(make_run, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        mapped = BashOperator.partial(task_id="echo", retries=2).expand(
            bash_command=["echo a", "echo b", "echo c"]
        )
    assert isinstance(mapped, MappedOperator)
    assert mapped.is_mapped and mapped.retries == 2 and mapped.max_tries == 2
    run = make_run(dag)
    result = run.execute()
    assert states(result) == {"echo": [S.SUCCESS] * 3}
    assert [r.map_index for r in result.instances] == [0, 1, 2]
    assert [pull_one(run.xcom, "echo", i, "return_value") for i in range(3)] == ["a", "b", "c"]


def test_mapped_results_reach_downstream_in_map_index_order(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:

        @task
        def double(x: int) -> int:
            return 2 * x

        @task
        def total(values: list[int]) -> None:
            seen.append(values)

        total(double.expand(x=[5, 1, 3, 2, 4, 6, 7, 8, 9, 10, 11, 12]))
    assert run_dag(dag).state == "success"
    assert seen == [[10, 2, 6, 4, 8, 12, 14, 16, 18, 20, 22, 24]]


def test_taskflow_partial_and_expand_over_upstream_result(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:

        @task
        def files() -> list[str]:
            return ["a.csv", "b.csv"]

        @task
        def load(path: str, table: str) -> str:
            return f"{table}<-{path}"

        @task
        def report(results: list[str]) -> None:
            seen.append(results)

        loaded = load.partial(table="t").expand(path=files())
        report(loaded)
    assert dag.get_task("load").upstream_task_ids == {"files"}
    result = run_dag(dag)
    assert states(result)["load"] == [S.SUCCESS, S.SUCCESS]
    assert seen == [["t<-a.csv", "t<-b.csv"]]


def test_expand_cross_product(run_dag) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:

        @task
        def combine(x: int, y: str) -> str:
            return f"{x}{y}"

        seen: list[Any] = []

        @task
        def gather(values: list[str]) -> None:
            seen.append(values)

        gather(combine.expand(x=[1, 2], y=["a", "b", "c"]))
    run_dag(dag)
    assert seen == [["1a", "1b", "1c", "2a", "2b", "2c"]]


def test_expand_over_dict_gives_key_value_pairs(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:

        @task
        def show(pair: Any) -> str:
            key, value = pair
            return f"{key}={value}"

        @task
        def gather(values: list[str]) -> None:
            seen.append(values)

        gather(show.expand(pair={"a": 1, "b": 2}))
    run_dag(dag)
    assert seen == [["a=1", "b=2"]]


def test_expand_kwargs_literal(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:
        PythonOperator.partial(
            task_id="p", python_callable=lambda a, b: seen.append((a, b))
        ).expand_kwargs([{"op_args": [1, 2]}, {"op_args": [3, 4]}])
    run_dag(dag)
    assert seen == [(1, 2), (3, 4)]


def test_expand_kwargs_taskflow_from_upstream(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:

        @task
        def configs() -> list[dict[str, Any]]:
            return [{"x": 1, "y": 2}, {"x": 10, "y": 20}]

        @task
        def add(x: int, y: int) -> int:
            return x + y

        @task
        def gather(values: list[int]) -> None:
            seen.append(values)

        gather(add.expand_kwargs(configs()))
    assert run_dag(dag).state == "success"
    assert seen == [[3, 30]]


def test_zero_length_expansion_is_skipped(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:

        @task
        def nothing() -> list[int]:
            return []

        @task
        def each(x: int) -> int:
            return x

        each.expand(x=nothing()) >> EmptyOperator(task_id="after")
    result = run_dag(dag)
    assert states(result) == {"nothing": S.SUCCESS, "each": S.SKIPPED, "after": S.SKIPPED}
    assert result.state == "success"


def test_literal_empty_list_is_skipped(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        BashOperator.partial(task_id="b").expand(bash_command=[])
    assert states(run_dag(dag)) == {"b": S.SKIPPED}


def test_non_list_upstream_fails_with_a_clear_message(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:

        @task
        def scalar() -> int:
            return 5

        @task
        def each(x: int) -> int:
            return x

        each.expand(x=scalar())
    result = run_dag(dag)
    assert states(result) == {"scalar": S.SUCCESS, "each": S.FAILED}
    error = next(r.error for r in result.instances if r.task_id == "each")
    assert error is not None
    assert "cannot map over 'x': expected a list, got int 5" in error
    assert result.state == "failed"


def test_mapped_instance_failure_fails_downstream(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:

        @task
        def fragile(x: int) -> int:
            if x == 2:
                raise ValueError("two")
            return x

        fragile.expand(x=[1, 2, 3]) >> EmptyOperator(task_id="after")
    result = run_dag(dag)
    assert states(result) == {
        "fragile": [S.SUCCESS, S.FAILED, S.SUCCESS],
        "after": S.UPSTREAM_FAILED,
    }


def test_mapped_task_pulls_per_index(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:

        @task
        def each(x: int, ti: Any = None) -> int:
            assert ti.map_index == x - 1
            return x * 100

        each.expand(x=[1, 2, 3])
    run = make_run(dag)
    assert run.execute().state == "success"


# -- definition-time errors -------------------------------------------------------------


def test_mapping_an_unknown_argument_is_an_error() -> None:
    with DAG("d"):
        with pytest.raises(DagDefinitionError, match=r"task 'b'.*unexpected argument 'bash_cmd'"):
            BashOperator.partial(task_id="b").expand(bash_cmd=["x"])

        @task
        def f(x: int) -> None:
            pass

        with pytest.raises(DagDefinitionError, match=r"task 'f'.*unexpected argument 'y'"):
            f.expand(y=[1])


def test_mapping_task_id_is_an_error() -> None:
    with DAG("d"), pytest.raises(DagDefinitionError, match="'task_id' cannot be mapped"):
        EmptyOperator.partial(task_id="e").expand(task_id=["a"])


def test_same_argument_in_partial_and_expand() -> None:
    with DAG("d"):

        @task
        def f(x: int) -> None:
            pass

        with pytest.raises(DagDefinitionError, match="'x' is given to both"):
            f.partial(x=1).expand(x=[1])


def test_expand_value_must_be_list_dict_or_output() -> None:
    with DAG("d"), pytest.raises(DagDefinitionError, match="must be a list, a dict"):
        BashOperator.partial(task_id="b").expand(bash_command="echo")


def test_expand_needs_arguments() -> None:
    with DAG("d"), pytest.raises(DagDefinitionError, match="needs arguments"):
        BashOperator.partial(task_id="b").expand()


def test_partial_needs_task_id() -> None:
    with pytest.raises(DagDefinitionError, match="needs a task_id"):
        BashOperator.partial()


def test_expand_kwargs_needs_dicts() -> None:
    with DAG("d"):
        with pytest.raises(DagDefinitionError, match="items must be dicts"):
            BashOperator.partial(task_id="a").expand_kwargs([1])  # type: ignore[list-item]
        with pytest.raises(DagDefinitionError, match="takes a list of dicts"):
            BashOperator.partial(task_id="b").expand_kwargs({"bash_command": "x"})  # type: ignore[arg-type]
        with pytest.raises(DagDefinitionError, match="unexpected argument 'nope'"):
            BashOperator.partial(task_id="c").expand_kwargs([{"nope": 1}])


def test_partial_used_twice() -> None:
    with DAG("d"):
        partial = BashOperator.partial(task_id="b")
        partial.expand(bash_command=["x"])
        with pytest.raises(DagDefinitionError, match="partial\\(\\) used twice"):
            partial.expand(bash_command=["y"])


def test_mapped_task_reads_default_args_and_defaults() -> None:
    with DAG("d", default_args={"retries": 3, "owner": "team"}):
        mapped = BashOperator.partial(task_id="b", owner="me").expand(bash_command=["x"])
    assert (mapped.retries, mapped.owner, mapped.pool, mapped.queue) == (
        3,
        "me",
        "default_pool",
        "default",
    )
    with pytest.raises(AttributeError, match="mapped task 'b' has no attribute 'nope'"):
        _ = mapped.nope


def test_mapped_task_with_trigger_rule() -> None:
    with DAG("d"):
        mapped = BashOperator.partial(task_id="b", trigger_rule="all_done").expand(
            bash_command=["x"]
        )
    assert mapped.trigger_rule == "all_done"


def test_partial_argument_from_upstream_output(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:

        @task
        def base() -> int:
            return 100

        @task
        def add(x: int, b: int) -> int:
            return x + b

        @task
        def show(values: list[int]) -> None:
            seen.append(values)

        show(add.partial(b=base()).expand(x=[1, 2]))
    assert dag.get_task("add").upstream_task_ids == {"base"}
    assert run_dag(dag).state == "success"
    assert seen == [[101, 102]]
    assert dag.task_ids == ["base", "add", "show"]  # expansion added nothing to the DAG


def test_classic_partial_with_output_argument(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        day = PythonOperator(task_id="day", python_callable=lambda: "monday")
        BashOperator.partial(task_id="b", env={"DAY": day.output}).expand(
            bash_command=["echo $DAY", "echo x$DAY"]
        )
    run = make_run(dag)
    assert run.execute().state == "success"
    assert [pull_one(run.xcom, "b", i, "return_value") for i in (0, 1)] == ["monday", "xmonday"]


def test_mapped_task_in_a_group(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    from sluice import TaskGroup

    seen: list[Any] = []
    with DAG("d") as dag:
        with TaskGroup("g"):

            @task
            def double(x: int) -> int:
                return 2 * x

            out = double.expand(x=[1, 2])

        @task
        def total(values: list[int]) -> None:
            seen.append(values)

        total(out)
    result = run_dag(dag)
    assert states(result) == {"g.double": [S.SUCCESS, S.SUCCESS], "total": S.SUCCESS}
    assert seen == [[2, 4]]


def test_skipped_mapped_instance_and_none_failed_downstream(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    from sluice.exceptions import SkipTask

    seen: list[Any] = []
    with DAG("d") as dag:

        @task
        def each(x: int) -> int:
            if x == 1:
                raise SkipTask("not this one")
            return x

        @task(trigger_rule="none_failed")
        def after(values: list[int]) -> None:
            seen.append(values)

        after(each.expand(x=[1, 2]))
    assert states(run_dag(dag)) == {"each": [S.SKIPPED, S.SUCCESS], "after": S.SUCCESS}
    assert seen == [[2]]
