"""Full refresh from an HTTP CSV: today's exchange rates replace yesterday's, whole.

``fetch`` downloads a CSV with ``HttpOperator`` (retrying connection errors and 5xx
answers); ``load`` replaces the table's rows with it, delete and insert in one
transaction, so that readers never see the table empty or half loaded and a re-run
gives the same rows; a check makes sure something was loaded.

The connection ``example_rates_http`` (made by ``sluice standalone``) points at the sample
file that Sluice's own web server serves, so this runs offline; point it at a real rates
service and change ``endpoint``.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sluice import DAG, task
from sluice.integrations.http import HttpOperator
from sluice.integrations.sql import SQLExecuteQueryOperator, SqlHook, SQLTableCheckOperator

WAREHOUSE = "elt_warehouse"

with DAG(
    "example_http_csv",
    description="Exchange rates from an HTTP CSV, fully refreshed every day",
    schedule="@daily",
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["example", "http", "sql"],
    doc_md=__doc__,
) as dag:
    fetch = HttpOperator(
        task_id="fetch",
        http_conn_id="example_rates_http",
        endpoint="static/examples/exchange_rates.csv",
        method="GET",
        response_check=lambda response: response.text.startswith("currency,"),
        response_filter=lambda response: response.text,
        retry_limit=3,
    )
    table = SQLExecuteQueryOperator(
        task_id="create_table",
        conn_id=WAREHOUSE,
        sql="CREATE TABLE IF NOT EXISTS exchange_rates (currency VARCHAR(3) PRIMARY KEY,"
        " name VARCHAR(60) NOT NULL, rate_per_eur DECIMAL(12, 4) NOT NULL,"
        " loaded_for VARCHAR(10) NOT NULL)",
        do_xcom_push=False,
    )

    @task
    def load(text: str, ds: str) -> int:
        """Replace every row, in one transaction."""
        rows = [
            (row["currency"], row["name"], row["rate_per_eur"], ds)
            for row in csv.DictReader(io.StringIO(text))
        ]
        hook = SqlHook(WAREHOUSE)
        with hook.transaction() as conn:
            conn.exec_driver_sql("DELETE FROM exchange_rates")
            return hook.insert_rows_in(conn, "exchange_rates", rows)

    check = SQLTableCheckOperator(
        task_id="check_rates",
        conn_id=WAREHOUSE,
        table="exchange_rates",
        checks={
            "row_count_check": {"check_statement": "COUNT(*) >= 10"},
            "rates_positive": {"check_statement": "MIN(rate_per_eur) > 0"},
        },
    )
    loaded = load(fetch.output)
    table >> loaded >> check
