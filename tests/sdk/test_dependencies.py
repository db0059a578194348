from __future__ import annotations

import pytest

from sluice import DAG, TaskGroup, chain, cross_downstream, task
from sluice.core.errors import DagDefinitionError
from sluice.operators import EmptyOperator
from sluice.sdk.operator import BaseOperator


def edges(dag: DAG) -> set[tuple[str, str]]:
    """Every (upstream, downstream) pair, checked for consistency in both directions."""
    down = {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}
    up = {(u, t.task_id) for t in dag.tasks for u in t.upstream_task_ids}
    assert down == up
    return down


def make(dag: DAG, *names: str) -> list[BaseOperator]:
    return [EmptyOperator(task_id=n, dag=dag) for n in names]


@pytest.fixture
def dag() -> DAG:
    return DAG("deps")


def test_rshift(dag: DAG) -> None:
    a, b = make(dag, "a", "b")
    assert (a >> b) is b
    assert edges(dag) == {("a", "b")}


def test_lshift(dag: DAG) -> None:
    a, b = make(dag, "a", "b")
    assert (a << b) is b
    assert edges(dag) == {("b", "a")}


def test_chained_rshift(dag: DAG) -> None:
    a, b, c = make(dag, "a", "b", "c")
    a >> b >> c
    assert edges(dag) == {("a", "b"), ("b", "c")}


def test_task_rshift_list(dag: DAG) -> None:
    a, b, c = make(dag, "a", "b", "c")
    result = a >> [b, c]
    assert result == [b, c]
    assert edges(dag) == {("a", "b"), ("a", "c")}


def test_list_rshift_task(dag: DAG) -> None:
    a, b, c = make(dag, "a", "b", "c")
    assert ([a, b] >> c) is c
    assert edges(dag) == {("a", "c"), ("b", "c")}


def test_list_lshift_task(dag: DAG) -> None:
    a, b, c = make(dag, "a", "b", "c")
    [a, b] << c
    assert edges(dag) == {("c", "a"), ("c", "b")}


def test_task_lshift_list(dag: DAG) -> None:
    a, b, c = make(dag, "a", "b", "c")
    a << [b, c]
    assert edges(dag) == {("b", "a"), ("c", "a")}


def test_fan_out_and_in(dag: DAG) -> None:
    a, b, c, d = make(dag, "a", "b", "c", "d")
    a >> [b, c] >> d
    assert edges(dag) == {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")}


def test_tuple_works_like_a_list(dag: DAG) -> None:
    a, b, c = make(dag, "a", "b", "c")
    a >> (b, c)
    assert edges(dag) == {("a", "b"), ("a", "c")}


def test_set_upstream_and_downstream(dag: DAG) -> None:
    a, b, c = make(dag, "a", "b", "c")
    b.set_upstream(a)
    b.set_downstream([c])
    assert edges(dag) == {("a", "b"), ("b", "c")}


def test_repeated_dependency_is_idempotent(dag: DAG) -> None:
    a, b = make(dag, "a", "b")
    a >> b
    a >> b
    assert a.downstream_task_ids == {"b"}


def test_dependency_on_a_non_task_is_a_type_error(dag: DAG) -> None:
    (a,) = make(dag, "a")
    with pytest.raises(TypeError, match="not a task"):
        a >> ["b"]  # type: ignore[list-item]


def test_chain_tasks(dag: DAG) -> None:
    a, b, c = make(dag, "a", "b", "c")
    chain(a, b, c)
    assert edges(dag) == {("a", "b"), ("b", "c")}


def test_chain_with_single_list_fans(dag: DAG) -> None:
    a, b, c, d = make(dag, "a", "b", "c", "d")
    chain(a, [b, c], d)
    assert edges(dag) == {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")}


def test_chain_adjacent_lists_are_pairwise(dag: DAG) -> None:
    t1, t2, t3, t4, t5, t6 = make(dag, "t1", "t2", "t3", "t4", "t5", "t6")
    chain(t1, [t2, t3], [t4, t5], t6)
    assert edges(dag) == {
        ("t1", "t2"),
        ("t1", "t3"),
        ("t2", "t4"),
        ("t3", "t5"),
        ("t4", "t6"),
        ("t5", "t6"),
    }


def test_chain_mismatched_list_lengths(dag: DAG) -> None:
    a, b, c = make(dag, "a", "b", "c")
    with pytest.raises(ValueError, match=r"different lengths \(2 and 1\)"):
        chain([a, b], [c])


def test_chain_nothing_or_one(dag: DAG) -> None:
    (a,) = make(dag, "a")
    chain()
    chain(a)
    assert edges(dag) == set()


def test_cross_downstream(dag: DAG) -> None:
    a, b, c, d = make(dag, "a", "b", "c", "d")
    cross_downstream([a, b], [c, d])
    assert edges(dag) == {("a", "c"), ("a", "d"), ("b", "c"), ("b", "d")}


def test_cross_downstream_to_one_task(dag: DAG) -> None:
    a, b, c = make(dag, "a", "b", "c")
    cross_downstream([a, b], c)
    assert edges(dag) == {("a", "c"), ("b", "c")}


# -- groups ---------------------------------------------------------------------------


def grouped() -> tuple[DAG, BaseOperator, TaskGroup, BaseOperator]:
    with DAG("g") as dag:
        start = EmptyOperator(task_id="start")
        with TaskGroup("grp") as group:
            x = EmptyOperator(task_id="x")
            y = EmptyOperator(task_id="y")
            z = EmptyOperator(task_id="z")
            x >> z
            y >> z
        end = EmptyOperator(task_id="end")
    return dag, start, group, end


def test_task_rshift_group_wires_group_roots() -> None:
    dag, start, group, _ = grouped()
    start >> group
    assert {d for u, d in edges(dag) if u == "start"} == {"grp.x", "grp.y"}


def test_group_rshift_task_wires_group_leaves() -> None:
    dag, _, group, end = grouped()
    assert (group >> end) is end
    assert {u for u, d in edges(dag) if d == "end"} == {"grp.z"}


def test_task_lshift_group_and_group_lshift_task() -> None:
    dag, start, group, end = grouped()
    end << group
    group << start
    assert ("grp.z", "end") in edges(dag)
    assert {("start", "grp.x"), ("start", "grp.y")} <= edges(dag)


def test_list_of_tasks_rshift_group() -> None:
    dag, start, group, end = grouped()
    [start, end] >> group
    assert {("start", "grp.x"), ("end", "grp.y")} <= edges(dag)


def test_group_rshift_group() -> None:
    with DAG("g") as dag:
        with TaskGroup("one") as one:
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            a >> b
        with TaskGroup("two") as two:
            EmptyOperator(task_id="c")
            EmptyOperator(task_id="d")
    one >> two
    assert edges(dag) == {("one.a", "one.b"), ("one.b", "two.c"), ("one.b", "two.d")}


def test_chain_with_groups() -> None:
    dag, start, group, end = grouped()
    chain(start, group, end)
    assert {("start", "grp.x"), ("start", "grp.y"), ("grp.z", "end")} <= edges(dag)


def test_empty_group_dependency_is_an_error() -> None:
    with DAG("g"):
        a = EmptyOperator(task_id="a")
        with TaskGroup("empty") as group:
            pass
        with pytest.raises(DagDefinitionError, match="'empty' is empty"):
            a >> group


# -- XComArg ----------------------------------------------------------------------------


def test_xcomarg_rshift_task() -> None:
    with DAG("x") as dag:

        @task
        def produce() -> int:
            return 1

        out = produce()
        b = EmptyOperator(task_id="b")
        out >> b
    assert edges(dag) == {("produce", "b")}


def test_task_rshift_xcomarg_and_output() -> None:
    with DAG("x") as dag:
        a = EmptyOperator(task_id="a")

        @task
        def consume() -> None:
            pass

        c = consume()
        a >> c
        b = EmptyOperator(task_id="b")
        a.output >> b
    assert edges(dag) == {("a", "consume"), ("a", "b")}


def test_list_with_xcomargs() -> None:
    with DAG("x") as dag:

        @task
        def one() -> int:
            return 1

        @task
        def two() -> int:
            return 2

        end = EmptyOperator(task_id="end")
        [one(), two()] >> end
    assert edges(dag) == {("one", "end"), ("two", "end")}
