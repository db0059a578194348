from __future__ import annotations

import pytest

from sluice import DAG, TaskGroup, task, task_group
from sluice.core.errors import DagDefinitionError, DuplicateTaskIdError
from sluice.operators import EmptyOperator


def test_task_ids_get_the_group_prefix() -> None:
    with DAG("d") as dag, TaskGroup("grp") as group:
        t = EmptyOperator(task_id="t")
    assert t.task_id == "grp.t"
    assert t.label == "t"
    assert t.task_group is group
    assert dag.task_ids == ["grp.t"]
    assert group.group_id == "grp" and group.label == "grp"


def test_nested_groups() -> None:
    with DAG("d"), TaskGroup("outer") as outer:
        with TaskGroup("inner") as inner:
            t = EmptyOperator(task_id="t")
        u = EmptyOperator(task_id="u")
    assert inner.group_id == "outer.inner"
    assert inner.parent_group is outer
    assert t.task_id == "outer.inner.t"
    assert u.task_id == "outer.u"
    assert [x.task_id for x in outer.iter_tasks()] == ["outer.inner.t", "outer.u"]


def test_prefix_group_id_false() -> None:
    with DAG("d"), TaskGroup("grp", prefix_group_id=False):
        t = EmptyOperator(task_id="t")
    assert t.task_id == "t"


def test_prefix_false_inside_prefixed_parent_gives_bare_ids() -> None:
    # Airflow's TaskGroup.child_id: a group with prefix_group_id=False returns the label as-is.
    with DAG("d"), TaskGroup("outer"), TaskGroup("inner", prefix_group_id=False) as inner:
        t = EmptyOperator(task_id="t")
    assert inner.group_id == "outer.inner"
    assert t.task_id == "t"


def test_duplicate_group_id_is_an_error() -> None:
    with DAG("d"):
        TaskGroup("grp")
        with pytest.raises(DagDefinitionError, match="DAG 'd': duplicate TaskGroup id 'grp'"):
            TaskGroup("grp")


def test_same_group_label_in_different_parents_is_fine() -> None:
    with DAG("d"):
        with TaskGroup("a"):
            x = TaskGroup("inner")
        with TaskGroup("b"):
            y = TaskGroup("inner")
    assert (x.group_id, y.group_id) == ("a.inner", "b.inner")


def test_group_id_and_task_id_clash() -> None:
    with DAG("d"):
        EmptyOperator(task_id="x")
        with pytest.raises(DagDefinitionError, match="'x' is already a task id"):
            TaskGroup("x")
    with DAG("e"):
        TaskGroup("y")
        with pytest.raises(DuplicateTaskIdError, match="'y' is already a TaskGroup id"):
            EmptyOperator(task_id="y")


def test_group_outside_dag_is_an_error() -> None:
    with pytest.raises(DagDefinitionError, match="inside a DAG"):
        TaskGroup("lonely")


def test_invalid_group_id() -> None:
    with DAG("d"), pytest.raises(DagDefinitionError, match="TaskGroup id in DAG 'd'"):
        TaskGroup("bad id")


def test_group_with_dag_argument() -> None:
    dag = DAG("d")
    group = TaskGroup("grp", dag=dag)
    t = EmptyOperator(task_id="t", task_group=group)
    assert t.task_id == "grp.t" and t.dag is dag


def test_tooltip_and_roots_and_leaves() -> None:
    with DAG("d"), TaskGroup("grp", tooltip="Loads things") as group:
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b")
        c = EmptyOperator(task_id="c")
        a >> c
        b >> c
    assert group.tooltip == "Loads things"
    assert group.get_roots() == [a, b]
    assert group.get_leaves() == [c]


def test_task_group_decorator() -> None:
    with DAG("d") as dag:

        @task
        def extract() -> int:
            return 1

        @task_group(tooltip="Transform stage")
        def transform(value: int) -> None:
            """Docstring."""

            @task
            def double(v: int) -> int:
                return v * 2

            @task
            def report(v: int) -> None:
                pass

            report(double(value))

        @task
        def end() -> None:
            pass

        group = transform(extract())
        group >> end()
    assert isinstance(group, TaskGroup)
    assert group.group_id == "transform"
    assert group.tooltip == "Transform stage"
    assert set(dag.task_ids) == {"extract", "transform.double", "transform.report", "end"}
    assert dag.get_task("transform.double").upstream_task_ids == {"extract"}
    assert dag.get_task("end").upstream_task_ids == {"transform.report"}


def test_task_group_decorator_uses_docstring_as_tooltip_and_returns_result() -> None:
    with DAG("d") as dag:

        @task_group
        def stage() -> object:
            """Stage docs."""

            @task
            def inner() -> int:
                return 1

            return inner()

        out = stage()
        after = EmptyOperator(task_id="after")
        out >> after
    group = dag.task_group.children["stage"]
    assert isinstance(group, TaskGroup)
    assert group.tooltip == "Stage docs."
    assert dag.get_task("after").upstream_task_ids == {"stage.inner"}


def test_task_group_decorator_called_twice_adds_suffixes() -> None:
    with DAG("d") as dag:

        @task_group
        def stage() -> None:
            EmptyOperator(task_id="t")

        stage()
        second = stage()
        stage()
    assert second.group_id == "stage__1"
    assert dag.task_ids == ["stage.t", "stage__1.t", "stage__2.t"]


def test_add_suffix_on_collision_for_a_plain_group() -> None:
    with DAG("d"):
        TaskGroup("g")
        assert TaskGroup("g", add_suffix_on_collision=True).group_id == "g__1"


def test_task_group_decorator_group_id_override() -> None:
    with DAG("d") as dag:

        @task_group(group_id="custom")
        def stage() -> None:
            EmptyOperator(task_id="t")

        stage()
    assert dag.task_ids == ["custom.t"]


def test_group_of_other_dag_is_not_used() -> None:
    other = DAG("other")
    with DAG("d"), TaskGroup("grp"):
        t = EmptyOperator(task_id="t", dag=other)
    assert t.task_id == "t" and t.dag is other
