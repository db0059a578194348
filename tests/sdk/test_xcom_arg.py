"""XComArg in a string: it renders as the template that pulls the value, as in Airflow."""

from __future__ import annotations

from sluice import DAG, task
from sluice.operators import BashOperator, PythonOperator
from sluice.runner.xcom import pull_one


def test_str_is_the_pull_template() -> None:
    with DAG("d"):
        produce = PythonOperator(task_id="produce", python_callable=lambda: 1)
    assert str(produce.output) == (
        "{{ task_instance.xcom_pull(task_ids='produce', dag_id='d', key='return_value') }}"
    )
    assert f"{produce.output['rows']}".endswith("key='rows') }}")
    assert repr(produce.output) == "XComArg('produce', 'return_value')"


def test_output_in_an_f_string_renders_when_the_task_runs(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:

        @task
        def produce() -> str:
            return "hello"

        made = produce()
        echo = BashOperator(task_id="echo", bash_command=f"echo {made} world")
        # As Airflow: a string sets no dependency, so it is set explicitly.
        assert echo.upstream_task_ids == set()
        made >> echo
    run = make_run(dag)
    run.execute()
    assert pull_one(run.xcom, "echo", -1, "return_value") == "hello world"
