"""Extract, load, transform: a shop's orders of each day into a warehouse, checked.

The pipeline of a data-pipelines handbook, one run per daily data interval:

1. ``extract``: the orders changed in the data interval, from the source database to a
   CSV object in the lake (``raw/orders/<ds>.csv``);
2. ``load``: that object into the warehouse's ``staging_orders``, after deleting the
   day's rows, in one transaction;
3. ``summarize``: ``daily_sales`` rebuilt for the day with SQL, delete and insert in
   one transaction, so that a re-run or a backfill of a day gives the same rows;
4. checks: as many rows in as out, order ids present and unique, amounts positive, one
   summary row per product; a failed check fails the run;
5. on failure, a notifier (here it writes to the log; use ``send_slack_notification``
   with a Slack webhook connection instead).

It reads three connections. ``sluice standalone`` and ``sluice db migrate`` create them
(``[core] load_examples``) pointing at SQLite files and a folder in
``SLUICE_HOME/example_data``, so it runs offline. Point them elsewhere and the same DAG
loads PostgreSQL from S3::

    sluice connections delete elt_warehouse
    sluice connections add elt_warehouse --conn-uri postgresql://etl:pw@db:5432/dwh
    sluice connections delete elt_lake
    sluice connections add elt_lake --conn-type aws --conn-login KEY --conn-password SECRET

``seed_shop_orders`` stands in for the shop writing orders to its database: it adds the
interval's orders when the source has none (drop it when the source is real).
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sluice import DAG
from sluice.integrations.notifiers import BaseNotifier
from sluice.integrations.sql import (
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLExecuteQueryOperator,
    SqlHook,
    SQLTableCheckOperator,
    SQLValueCheckOperator,
)
from sluice.integrations.storage import (
    ObjectStorageCreateBucketOperator,
    ObjectStorageToSqlOperator,
    SqlToObjectStorageOperator,
)
from sluice.operators import PythonOperator

SOURCE = "elt_source"
LAKE = "elt_lake"
WAREHOUSE = "elt_warehouse"
BUCKET = "raw"
PRODUCTS = ("kettle", "teapot", "mug", "grinder", "beans")

log = logging.getLogger("sluice.task")


class LogNotifier(BaseNotifier):
    """A notifier that writes to the task's log: the shape of a Slack or Teams one."""

    template_fields = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def notify(self, context: Any) -> None:
        log.warning("ALERT: %s", self.message)


def sql_time(moment: datetime) -> str:
    """A timestamp as every database compares it, SQLite's text included."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def seed_shop_orders(data_interval_start: datetime, data_interval_end: datetime) -> int:
    """Add the interval's orders to the source when it has none (idempotent)."""
    hook = SqlHook(SOURCE)
    hook.run(
        "CREATE TABLE IF NOT EXISTS orders (order_id BIGINT PRIMARY KEY,"
        " customer VARCHAR(40) NOT NULL, product VARCHAR(40) NOT NULL,"
        " quantity INTEGER NOT NULL, amount_cents INTEGER NOT NULL,"
        " updated_at VARCHAR(19) NOT NULL)"
    )
    start, end = sql_time(data_interval_start), sql_time(data_interval_end)
    marker = "?" if hook.dialect_name == "sqlite" else "%s"
    (existing,) = hook.get_first(
        f"SELECT COUNT(*) FROM orders WHERE updated_at >= {marker} AND updated_at < {marker}",
        [start, end],
    )
    if existing:
        return 0
    day = int(data_interval_start.timestamp()) // 86400
    rng = random.Random(day)  # the same orders for the same interval, every time
    span = max(int((data_interval_end - data_interval_start).total_seconds()), 1)
    rows = []
    for n in range(rng.randint(15, 25)):
        moment = data_interval_start + timedelta(seconds=rng.randrange(span))
        quantity = rng.randint(1, 4)
        price = rng.choice((450, 1290, 2500))
        customer = f"customer-{rng.randint(1, 40)}"
        product = rng.choice(PRODUCTS)
        rows.append(
            (day * 1000 + n, customer, product, quantity, quantity * price, sql_time(moment))
        )
    return hook.insert_rows("orders", rows)


with DAG(
    "example_elt",
    description="Orders of the day: source database to lake to warehouse, checked",
    schedule="@daily",
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["example", "elt", "sql"],
    user_defined_macros={"sql_time": sql_time},
    default_args={
        "retries": 1,
        "retry_delay": timedelta(seconds=30),
        "on_failure_callback": LogNotifier("example_elt: {{ ti.task_id }} failed for {{ ds }}"),
    },
    doc_md=__doc__,
) as dag:
    seed = PythonOperator(task_id="seed_shop_orders", python_callable=seed_shop_orders)
    bucket = ObjectStorageCreateBucketOperator(
        task_id="create_bucket", conn_id=LAKE, bucket_name=BUCKET
    )
    tables = SQLExecuteQueryOperator(
        task_id="create_tables",
        conn_id=WAREHOUSE,
        sql=[
            "CREATE TABLE IF NOT EXISTS staging_orders (order_id BIGINT NOT NULL,"
            " customer VARCHAR(40), product VARCHAR(40), quantity INTEGER,"
            " amount_cents INTEGER, updated_at VARCHAR(19), load_day VARCHAR(10) NOT NULL)",
            "CREATE TABLE IF NOT EXISTS daily_sales (day VARCHAR(10) NOT NULL,"
            " product VARCHAR(40) NOT NULL, orders INTEGER NOT NULL, quantity INTEGER NOT NULL,"
            " revenue_cents BIGINT NOT NULL, PRIMARY KEY (day, product))",
        ],
        do_xcom_push=False,
    )
    extract = SqlToObjectStorageOperator(
        task_id="extract",
        sql_conn_id=SOURCE,
        storage_conn_id=LAKE,
        bucket=BUCKET,
        key="orders/{{ ds }}.csv",
        query=(
            "SELECT order_id, customer, product, quantity, amount_cents, updated_at,"
            " '{{ ds }}' AS load_day FROM orders"
            " WHERE updated_at >= '{{ sql_time(data_interval_start) }}'"
            " AND updated_at < '{{ sql_time(data_interval_end) }}' ORDER BY order_id"
        ),
        replace=True,  # a re-run of the day writes the day's object again
    )
    load = ObjectStorageToSqlOperator(
        task_id="load",
        storage_conn_id=LAKE,
        bucket=BUCKET,
        key="orders/{{ ds }}.csv",
        sql_conn_id=WAREHOUSE,
        table="staging_orders",
        preoperator="DELETE FROM staging_orders WHERE load_day = '{{ ds }}'",
    )
    summarize = SQLExecuteQueryOperator(
        task_id="summarize",
        conn_id=WAREHOUSE,
        sql=[
            "DELETE FROM daily_sales WHERE day = '{{ ds }}'",
            "INSERT INTO daily_sales (day, product, orders, quantity, revenue_cents)"
            " SELECT load_day, product, COUNT(*), SUM(quantity), SUM(amount_cents)"
            " FROM staging_orders WHERE load_day = '{{ ds }}' GROUP BY load_day, product",
        ],
        do_xcom_push=False,
    )
    rows_in_equal_rows_out = SQLValueCheckOperator(
        task_id="check_rows_in_equal_rows_out",
        conn_id=WAREHOUSE,
        table="staging_orders",
        sql="SELECT COUNT(*) FROM staging_orders WHERE load_day = '{{ ds }}'",
        pass_value="{{ ti.xcom_pull(task_ids='extract')['rows'] }}",
    )
    orders_are_sound = SQLColumnCheckOperator(
        task_id="check_orders",
        conn_id=WAREHOUSE,
        table="staging_orders",
        partition_clause="load_day = '{{ ds }}'",
        column_mapping={
            "order_id": {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}},
            "amount_cents": {"min": {"greater_than": 0}},
            "quantity": {"min": {"geq_to": 1}, "max": {"leq_to": 100, "severity": "warn"}},
        },
    )
    summary_is_sound = SQLTableCheckOperator(
        task_id="check_daily_sales",
        conn_id=WAREHOUSE,
        table="daily_sales",
        partition_clause="day = '{{ ds }}'",
        checks={"row_count_check": {"check_statement": "COUNT(*) >= 1"}},
    )
    one_row_per_product = SQLCheckOperator(
        task_id="check_daily_sales_key",
        conn_id=WAREHOUSE,
        table="daily_sales",
        sql=("SELECT COUNT(*) = COUNT(DISTINCT product) FROM daily_sales WHERE day = '{{ ds }}'"),
    )

    [seed, bucket] >> extract
    [extract, tables] >> load >> summarize
    load >> [rows_in_equal_rows_out, orders_are_sound]
    summarize >> [summary_is_sound, one_row_per_product]
