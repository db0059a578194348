from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sluice import DAG, BaseOperator, task
from sluice.core.errors import TemplateError
from sluice.core.states import TaskInstanceState
from sluice.operators import BashOperator, EmptyOperator, PythonOperator
from sluice.runner.xcom import pull_one
from sluice.sdk.operator import Context
from sluice.sdk.templating import make_environment, render_template

S = TaskInstanceState


class Show(BaseOperator):
    """Returns its rendered template fields."""

    template_fields: Sequence[str] = ("text", "data")
    template_ext: Sequence[str] = (".txt",)

    def __init__(self, *, text: Any = None, data: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.text = text
        self.data = data

    def execute(self, context: Context) -> Any:
        return {"text": self.text, "data": self.data}


def rendered(make_run, dag: DAG, task_id: str = "show") -> Any:  # type: ignore[no-untyped-def]
    run = make_run(dag)
    result = run.execute()
    failures = [r.error for r in result.instances if r.state is not S.SUCCESS]
    assert not failures, failures
    return pull_one(run.xcom, task_id, -1, "return_value")


def test_template_fields_are_rendered_recursively(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d", schedule="@daily", start_date=datetime(2024, 1, 1, tzinfo=UTC)) as dag:
        Show(
            task_id="show",
            text="{{ ds }}",
            data={"list": ["{{ ds_nodash }}", 1], "tuple": ("{{ task.task_id }}",), "n": None},
        )
    out = rendered(make_run, dag)
    assert out == {
        "text": "2024-03-15",
        "data": {"list": ["20240315", 1], "tuple": ["show"], "n": None},
    }


def test_fields_not_in_template_fields_are_left_alone(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        t = BashOperator(task_id="b", bash_command="echo {{ ds }}", output_encoding="{{ ds }}")
    make_run(dag).render_task("b")
    assert t.output_encoding == "{{ ds }}"


def test_rendering_does_not_change_the_dag_task(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        t = Show(task_id="show", text="{{ ds }}")
    rendered(make_run, dag)
    assert t.text == "{{ ds }}"


def test_undefined_name_names_task_and_field(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        Show(task_id="show", text="{{ nope }}")
    result = make_run(dag).execute()
    (record,) = result.instances
    assert record.state is S.FAILED
    assert record.error == "TemplateError: task 'show' field 'text': 'nope' is undefined"


def test_undefined_attribute_is_an_error_too(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        Show(task_id="show", data=["{{ dag_run.nope }}"])
    with pytest.raises(TemplateError, match=r"task 'show' field 'data'.*nope"):
        make_run(dag).render_task("show")


def test_template_syntax_error(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        Show(task_id="show", text="{{ ds ")
    with pytest.raises(TemplateError, match="task 'show' field 'text': template syntax error"):
        make_run(dag).render_task("show")


def test_template_errors_are_retried_as_airflow_does(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        Show(task_id="show", text="{{ nope }}", retries=2)
    result = make_run(dag).execute()
    assert result.instances[0].try_number == 3  # Airflow retries render failures too
    assert result.instances[0].state is S.FAILED


def test_template_file_from_the_dag_folder(make_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "query.txt").write_text("select * from t where day = '{{ ds }}'\n")
    dag_file = tmp_path / "my_dag.py"
    dag_file.write_text("# a DAG file\n")
    with DAG("d", fileloc=str(dag_file)) as dag:
        Show(task_id="show", text="query.txt")
    assert rendered(make_run, dag)["text"] == "select * from t where day = '2024-03-15'\n"


def test_template_searchpath(make_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "inc.txt").write_text("{% set x = 2 %}{{ x * 21 }}")
    with DAG("d", template_searchpath=str(templates)) as dag:
        Show(task_id="show", text="inc.txt")
    assert rendered(make_run, dag)["text"] == "42"


def test_missing_template_file_names_task_field_and_file(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        Show(task_id="show", text="missing.txt")
    with pytest.raises(
        TemplateError, match=r"task 'show' field 'text': template file 'missing.txt'"
    ):
        make_run(dag).render_task("show")


def test_user_defined_macros_and_filters(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG(
        "d",
        user_defined_macros={"project": "acme", "twice": lambda v: v * 2},
        user_defined_filters={"shout": lambda s: s.upper() + "!"},
    ) as dag:
        Show(task_id="show", text="{{ project | shout }} {{ twice(21) }}")
    assert rendered(make_run, dag)["text"] == "ACME! 42"


def test_airflow_filters(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        Show(
            task_id="show",
            text="{{ logical_date | ds }} {{ logical_date | ds_nodash }} {{ logical_date | ts }} "
            "{{ logical_date | ts_nodash }}",
        )
    assert rendered(make_run, dag)["text"] == (
        "2024-03-15 20240315 2024-03-15T00:00:00+00:00 20240315T000000"
    )


def test_render_template_as_native_obj(make_run) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d", render_template_as_native_obj=True, params={"n": 3}) as dag:
        PythonOperator(
            task_id="p",
            python_callable=lambda values, n: seen.append((values, n)),
            op_kwargs={"values": "{{ [1, 2] + [params.n] }}", "n": "{{ params.n }}"},
        )
    make_run(dag).execute()
    assert seen == [([1, 2, 3], 3)]


def test_without_native_obj_templates_render_strings(make_run) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d", params={"n": 3}) as dag:
        PythonOperator(
            task_id="p",
            python_callable=lambda n: seen.append(n),
            op_kwargs={"n": "{{ params.n }}"},
        )
    make_run(dag).execute()
    assert seen == ["3"]


def test_xcomarg_in_op_kwargs_is_resolved(make_run) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:
        first = PythonOperator(task_id="first", python_callable=lambda: {"rows": 3})
        second = PythonOperator(
            task_id="second",
            python_callable=lambda rows, whole: seen.append((rows, whole)),
            op_kwargs={"rows": first.output["rows"], "whole": first.output},
            do_xcom_push=False,
        )
    assert second.upstream_task_ids == {"first"}
    result = make_run(dag).execute()
    assert result.state == "success"
    # first has multiple_outputs off: the "rows" key was never pushed.
    assert seen == [(None, {"rows": 3})]


def test_xcomarg_key_with_multiple_outputs(make_run) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:
        first = PythonOperator(
            task_id="first", python_callable=lambda: {"rows": 3}, multiple_outputs=True
        )
        PythonOperator(
            task_id="second",
            python_callable=lambda rows: seen.append(rows),
            op_args=[first.output["rows"]],
        )
    make_run(dag).execute()
    assert seen == [3]


def test_render_task_shows_every_template_field(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d", params={"who": "world"}) as dag:
        BashOperator(task_id="b", bash_command="echo {{ params.who }}", env={"DAY": "{{ ds }}"})
    ((index, fields),) = make_run(dag).render_task("b")
    assert index == -1
    assert fields == {"bash_command": "echo world", "env": {"DAY": "2024-03-15"}, "cwd": None}


def test_render_mapped_task_per_index(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        BashOperator.partial(task_id="b", env={"D": "{{ ds }}"}).expand(
            bash_command=["echo {{ ti.map_index }}", "echo two"]
        )
    out = make_run(dag).render_task("b")
    assert [(i, f["bash_command"], f["env"]) for i, f in out] == [
        (0, "echo 0", {"D": "2024-03-15"}),
        (1, "echo two", {"D": "2024-03-15"}),
    ]


def test_render_template_keeps_non_strings_and_namedtuples() -> None:
    from collections import namedtuple

    Pair = namedtuple("Pair", "a b")
    env = make_environment(None)
    value = {"p": Pair("{{ x }}", 2), "s": {"{{ x }}"}, "n": 5}
    assert render_template(value, {"x": "y"}, env) == {"p": Pair("y", 2), "s": {"y"}, "n": 5}


def test_dag_param_in_template_field(make_run) -> None:  # type: ignore[no-untyped-def]
    from sluice import dag as dag_decorator

    seen: list[Any] = []

    @dag_decorator(schedule=None)
    def pipeline(who: str = "world") -> None:
        PythonOperator(task_id="p", python_callable=lambda w: seen.append(w), op_args=[who])
        BashOperator(task_id="b", bash_command=f"echo {who}")

    run = make_run(pipeline(), conf={"who": "there"})
    run.execute()
    assert seen == ["there"]
    assert pull_one(run.xcom, "b", -1, "return_value") == "there"


def test_empty_operator_has_nothing_to_render(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        EmptyOperator(task_id="e")
    assert make_run(dag).render_task("e") == [(-1, {})]


def test_taskflow_argument_strings_are_templated(make_run) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:

        @task
        def show(text: str) -> None:
            seen.append(text)

        show("day {{ ds }}")
    make_run(dag).execute()
    assert seen == ["day 2024-03-15"]
