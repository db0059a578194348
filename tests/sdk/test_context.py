from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from sluice import DAG, task
from sluice.core.states import TaskInstanceState
from sluice.operators import BashOperator, PythonOperator
from sluice.runner.local_run import LocalDagRun
from sluice.runner.xcom import pull_one
from sluice.sdk import macros
from sluice.sdk.datetimes import ContextDateTime
from sluice.sdk.templating import make_environment, render_template

S = TaskInstanceState
START = datetime(2024, 1, 1, tzinfo=UTC)

SPEC_KEYS = {
    "ds",
    "ds_nodash",
    "ts",
    "ts_nodash",
    "logical_date",
    "execution_date",
    "data_interval_start",
    "data_interval_end",
    "prev_data_interval_start_success",
    "prev_data_interval_end_success",
    "prev_start_date_success",
    "dag",
    "task",
    "ti",
    "task_instance",
    "run_id",
    "dag_run",
    "params",
    "conf",
    "var",
    "conn",
    "macros",
    "test_mode",
}


@pytest.fixture
def captured(make_run) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The context one task of a daily DAG sees in a test run at 2024-03-15."""
    box: dict[str, Any] = {}
    with DAG("daily", schedule="@daily", start_date=START, params={"p": 1}) as dag:

        @task
        def grab(**context: Any) -> None:
            box.update(context)

        grab()
    result = make_run(dag, conf={"p": 2}, config={"core": {}}).execute()
    assert result.state == "success"
    box["_dag"] = dag
    return box


def test_every_spec_key_exists(captured: dict[str, Any]) -> None:
    assert set(captured) >= SPEC_KEYS


def test_date_values_for_a_daily_dag(captured: dict[str, Any]) -> None:
    logical = datetime(2024, 3, 15, tzinfo=UTC)
    assert captured["logical_date"] == logical
    assert captured["execution_date"] == logical
    assert captured["ds"] == "2024-03-15"
    assert captured["ds_nodash"] == "20240315"
    assert captured["ts"] == "2024-03-15T00:00:00+00:00"
    assert captured["ts_nodash"] == "20240315T000000"
    assert captured["ts_nodash_with_tz"] == "20240315T000000+0000"
    # A manual run at midnight covers the last complete day, as Airflow infers it.
    assert captured["data_interval_start"] == datetime(2024, 3, 14, tzinfo=UTC)
    assert captured["data_interval_end"] == logical


def test_prev_values_are_none_in_a_test_run(captured: dict[str, Any]) -> None:
    assert captured["prev_data_interval_start_success"] is None
    assert captured["prev_data_interval_end_success"] is None
    assert captured["prev_start_date_success"] is None


def test_objects_in_the_context(captured: dict[str, Any]) -> None:
    dag = captured["_dag"]
    assert captured["dag"] is dag
    assert captured["task"].task_id == "grab"
    assert captured["ti"] is captured["task_instance"]
    ti = captured["ti"]
    assert (ti.dag_id, ti.task_id, ti.map_index, ti.try_number) == ("daily", "grab", -1, 1)
    assert ti.run_id == captured["run_id"] == "manual__2024-03-15T00:00:00+00:00"
    dag_run = captured["dag_run"]
    assert dag_run.run_id == captured["run_id"]
    assert dag_run.conf == {"p": 2}
    assert dag_run.logical_date == captured["logical_date"]
    assert dag_run.data_interval_start == captured["data_interval_start"]
    assert dag_run.external_trigger is True
    assert captured["params"] == {"p": 2}
    assert captured["conf"] == {"core": {}}
    assert captured["test_mode"] is True
    assert captured["map_index"] == -1
    assert captured["task_instance_key_str"] == "daily__grab__20240315"


def test_run_id_follows_run_type(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        BashOperator(task_id="b", bash_command="echo {{ run_id }} {{ dag_run.run_type }}")
    run = make_run(dag, run_type="scheduled")
    run.execute()
    value = pull_one(run.xcom, "b", -1, "return_value")
    assert value == "scheduled__2024-03-15T00:00:00+00:00 scheduled"


def test_var_value_and_json_from_environment(make_run, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SLUICE_VAR_TARGET", "warehouse")
    monkeypatch.setenv("SLUICE_VAR_SETTINGS", '{"rows": [1, 2]}')
    with DAG("d") as dag:
        BashOperator(
            task_id="b",
            bash_command="echo {{ var.value.target }} {{ var.json.settings.rows[1] }} "
            "{{ var.value.get('missing', 'fallback') }}",
        )
    run = make_run(dag)
    run.execute()
    assert pull_one(run.xcom, "b", -1, "return_value") == "warehouse 2 fallback"


def test_undefined_variable_fails_the_task(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        BashOperator(task_id="b", bash_command="echo {{ var.value.not_there_at_all }}")
    (record,) = make_run(dag).execute().instances
    assert record.state is S.FAILED
    assert "task 'b' field 'bash_command'" in (record.error or "")
    assert "variable 'not_there_at_all' is not defined" in (record.error or "")


def test_variable_with_bad_json(make_run, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SLUICE_VAR_BROKEN", "{nope")
    with DAG("d") as dag:
        BashOperator(task_id="b", bash_command="echo {{ var.json.broken }}")
    (record,) = make_run(dag).execute().instances
    assert "variable 'broken' is not valid JSON" in (record.error or "")


def test_custom_variable_and_connection_lookups(make_run) -> None:  # type: ignore[no-untyped-def]
    class Conn:
        host = "db.example"

    with DAG("d") as dag:
        BashOperator(task_id="b", bash_command="echo {{ var.value.x }} {{ conn.main.host }}")
    run = make_run(
        dag,
        variables={"x": "vx"}.get,
        connections=lambda cid: Conn() if cid == "main" else None,
    )
    run.execute()
    assert pull_one(run.xcom, "b", -1, "return_value") == "vx db.example"


def test_unknown_connection(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        BashOperator(task_id="b", bash_command="echo {{ conn.nowhere.host }}")
    (record,) = make_run(dag).execute().instances
    assert "connection 'nowhere' is not defined" in (record.error or "")


def test_macros_in_templates(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        BashOperator(
            task_id="b",
            bash_command="echo {{ macros.ds_add(ds, 7) }} {{ macros.ds_format(ds, '%Y-%m-%d', "
            "'%d/%m/%Y') }} {{ (logical_date + macros.timedelta(days=1)).day }} "
            "{{ macros.datetime(2020, 1, 2).year }}",
        )
    run = make_run(dag)
    run.execute()
    assert pull_one(run.xcom, "b", -1, "return_value") == "2024-03-22 15/03/2024 16 2020"


def test_macro_functions() -> None:
    assert macros.ds_add("2015-01-01", 5) == "2015-01-06"
    assert macros.ds_add("2015-01-06", -5) == "2015-01-01"
    assert macros.ds_add("2015-01-06", 0) == "2015-01-06"
    assert macros.ds_format("2015-01-01", "%Y-%m-%d", "%m-%d-%y") == "01-01-15"
    assert macros.ds_format("1/5/2015", "%m/%d/%Y", "%Y-%m-%d") == "2015-01-05"
    ns = macros.make_macros()
    assert ns.datetime is datetime and ns.timedelta is timedelta and ns.date is date
    later = datetime(2024, 1, 1, 3, tzinfo=UTC)
    assert macros.datetime_diff_for_humans(later, datetime(2024, 1, 1, tzinfo=UTC)) == "in 3 hours"
    assert macros.datetime_diff_for_humans(datetime(2024, 1, 1, tzinfo=UTC), later) == "3 hours ago"


def test_context_reaches_python_callable_by_name(make_run) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []

    def fn(a: int, ds: str, ti: Any, params: dict[str, Any]) -> None:
        seen.append((a, ds, ti.task_id, params))

    with DAG("d", params={"k": "v"}) as dag:
        PythonOperator(task_id="p", python_callable=fn, op_args=[1])
    make_run(dag).execute()
    assert seen == [(1, "2024-03-15", "p", {"k": "v"})]


def test_task_sees_its_own_task_object_with_rendered_fields(make_run) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d") as dag:
        PythonOperator(
            task_id="p",
            python_callable=lambda task, x: seen.append((task.op_kwargs, x)),
            op_kwargs={"x": "{{ ds }}"},
        )
    make_run(dag).execute()
    assert seen == [({"x": "2024-03-15"}, "2024-03-15")]


def test_context_datetimes_render_as_iso_8601_and_have_pendulum_helpers() -> None:
    # Airflow's context holds pendulum DateTimes: "{{ data_interval_start }}" is one
    # ISO word on a command line, and templates call .add() and .in_timezone().
    start = datetime(2024, 1, 31, tzinfo=UTC)
    with DAG("iso", schedule="@daily", start_date=datetime(2024, 1, 1, tzinfo=UTC)) as dag:
        BashOperator(task_id="b", bash_command="echo")
    run = LocalDagRun(dag, logical_date=start)
    ti = run._ti(dag.get_task("b"), -1, 1)
    context = run._context(dag.get_task("b"), ti)
    env = make_environment(dag)

    assert isinstance(context["data_interval_start"], ContextDateTime)
    # A manual run at midnight covers the day that just ended, as Airflow infers it.
    assert render_template("{{ data_interval_start }}", context, env) == (
        "2024-01-30T00:00:00+00:00"
    )
    assert render_template("{{ logical_date.add(months=1) }}", context, env) == (
        "2024-02-29T00:00:00+00:00"
    )
    assert render_template(
        "{{ logical_date.subtract(days=1).to_date_string() }}", context, env
    ) == ("2024-01-30")
    assert render_template("{{ logical_date.in_timezone('Europe/Paris') }}", context, env) == (
        "2024-01-31T01:00:00+01:00"
    )
