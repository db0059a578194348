"""A report that waits for the ELT of its day: ExternalTaskSensor across two schedules.

``example_elt`` runs at midnight; this DAG runs half an hour later, every day. Its run of
00:30 waits for the ELT run of 00:00 (``execution_delta``: 30 minutes earlier) to succeed,
then reads the day's sales from the warehouse. The sensor waits in ``reschedule`` mode:
between pokes it gives its worker slot back, so a long wait blocks nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sluice import DAG
from sluice.integrations.external_task import ExternalTaskSensor
from sluice.integrations.sql import SQLExecuteQueryOperator

with DAG(
    "example_elt_report",
    description="Top products of the day, once example_elt has loaded it",
    schedule="30 0 * * *",
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["example", "elt", "sensor"],
    doc_md=__doc__,
) as dag:
    wait = ExternalTaskSensor(
        task_id="wait_for_elt",
        external_dag_id="example_elt",
        external_task_id=None,  # the whole run: every check passed too
        execution_delta=timedelta(minutes=30),
        allowed_states=["success"],
        failed_states=["failed"],
        mode="reschedule",
        poke_interval=30,
        timeout=6 * 60 * 60,
    )
    report = SQLExecuteQueryOperator(
        task_id="top_products",
        conn_id="elt_warehouse",
        sql=(
            "SELECT product, orders, revenue_cents FROM daily_sales WHERE day = '{{ ds }}'"
            " ORDER BY revenue_cents DESC, product"
        ),
        show_return_value_in_logs=True,
    )
    wait >> report
