"""A sluice DAG of two PythonOperators, hello >> goodbye, every day at 06:00 UTC.

``"0 6 * * *"`` is a cron string: as in Airflow 2, it gives data intervals, so the
run for 2024-01-01 06:00 covers [2024-01-01 06:00, 2024-01-02 06:00) and starts
once that day is over. ``catchup=False`` (the default in Sluice) means only the
latest interval gets a run when the DAG is switched on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sluice import DAG
from sluice.operators import PythonOperator


def say_hello(ds: str, data_interval_start: datetime, data_interval_end: datetime) -> str:
    """Context values are passed to the parameters that name them."""
    message = f"hello from {ds}: this run covers {data_interval_start} to {data_interval_end}"
    print(message)
    return message


def say_goodbye(ti: Any, name: str) -> str:
    """Pulls what hello returned, through XCom."""
    greeting = ti.xcom_pull(task_ids="hello")
    message = f"goodbye, {name} (hello said: {greeting!r})"
    print(message)
    return message


with DAG(
    dag_id="example_python_hello",
    description="hello >> goodbye, daily at 06:00 UTC.",
    schedule="0 6 * * *",
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["example", "python"],
) as dag:
    hello = PythonOperator(task_id="hello", python_callable=say_hello)
    goodbye = PythonOperator(
        task_id="goodbye", python_callable=say_goodbye, op_kwargs={"name": "{{ dag.dag_id }}"}
    )

    hello >> goodbye
