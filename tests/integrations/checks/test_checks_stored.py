"""Check results stored per try through the real task runner and metadata database (on
each backend); ``dags test``-style local runs store nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.runner.conftest import LOGICAL_DATE, Stored

from sluice.core.messages import RunnerExit
from sluice.core.states import TaskInstanceState
from sluice.core.xcom_codec import decode_xcom
from sluice.integrations.connection import Connection
from sluice.integrations.lookup import connection_env_name
from sluice.integrations.runtime import use_store
from sluice.integrations.sql.hook import SqlHook
from sluice.parsing.importer import import_dag_file
from sluice.runner.local_run import LocalDagRun
from sluice.store.check_results import instance_results, table_runs_query
from sluice.store.tables import CheckResult, XCom

S = TaskInstanceState

SOURCE = """
from sluice.integrations.sql.checks import SQLColumnCheckOperator, SQLTableCheckOperator

with DAG("dq", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    SQLColumnCheckOperator(
        task_id="columns",
        conn_id="warehouse",
        table="orders",
        column_mapping={
            "customer_id": {"null_check": {"equal_to": 0}},
            "amount": {"min": {"geq_to": 0}, "max": {"leq_to": 50, "severity": "warn"}},
        },
        retries=1,
        retry_delay=0,
    )
    SQLTableCheckOperator(
        task_id="rows",
        conn_id="warehouse",
        table="orders",
        checks={"row_count_check": {"check_statement": "COUNT(*) >= 2"}},
    )
"""


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SqlHook:
    """The connection ``warehouse`` to a SQLite file with an ``orders`` table in which
    one order has no customer."""
    uri = "sqlite://" + str(tmp_path / "warehouse.db").replace("/", "%2F")
    Connection.from_uri("warehouse", uri)  # the URI is valid
    monkeypatch.setenv(connection_env_name("warehouse"), uri)
    hook = SqlHook("warehouse")
    hook.run("CREATE TABLE orders (id INTEGER, customer_id INTEGER, amount REAL)")
    hook.insert_rows("orders", [(1, 10, 5.0), (2, None, 80.0)])
    return hook


def rows(stored: Stored, task_id: str) -> list[CheckResult]:
    with stored.store.transaction() as session:
        query = select(CheckResult).where(CheckResult.task_id == task_id).order_by(CheckResult.id)
        return list(session.scalars(query))


def test_results_are_stored_per_try(stored: Stored, warehouse: SqlHook) -> None:
    stored.write("dq.py", SOURCE)
    run_id = stored.trigger("dq")

    assert stored.run("dq", run_id, "columns") == RunnerExit.OUTCOME_WRITTEN
    assert stored.ti("dq", run_id, "columns").state == S.UP_FOR_RETRY
    (first,) = stored.tries("dq", "columns")
    assert "null_check on orders.customer_id: observed 1" in (first.error or "")
    warehouse.run("UPDATE orders SET customer_id = 11 WHERE id = 2")
    assert stored.run("dq", run_id, "columns") == RunnerExit.OUTCOME_WRITTEN
    assert stored.ti("dq", run_id, "columns").state == S.SUCCESS

    with stored.store.transaction() as session:
        results = instance_results(session, "dq", run_id, "columns", -1)
    got = [(r.try_number, r.column_name, r.check_name, r.observed, r.outcome) for r in results]
    assert got == [
        (1, "customer_id", "null_check", "1", "fail"),  # stored before the try failed
        (1, "amount", "min", "5.0", "pass"),
        (1, "amount", "max", "80.0", "warn"),
        (2, "customer_id", "null_check", "0", "pass"),
        (2, "amount", "min", "5.0", "pass"),
        (2, "amount", "max", "80.0", "warn"),
    ]
    first_row = results[0]
    assert (first_row.dag_id, first_row.run_id, first_row.map_index) == ("dq", run_id, -1)
    assert (first_row.check_type, first_row.table_name, first_row.severity) == (
        "column", "orders", "error",
    )  # fmt: skip
    assert first_row.expectation == "null_check equal_to 0" and first_row.recorded_at
    assert results[2].expectation == "max leq_to 50" and results[2].severity == "warn"
    with stored.store.transaction() as session:
        pushed = session.scalar(select(XCom.value).where(XCom.task_id == "columns"))
    summary = decode_xcom(pushed)
    assert [item["outcome"] for item in summary] == ["pass", "pass", "warn"]


def test_each_run_keeps_its_results(stored: Stored, warehouse: SqlHook) -> None:
    stored.write("dq.py", SOURCE)
    first = stored.trigger("dq")
    second = stored.trigger("dq", when=LOGICAL_DATE + timedelta(days=1))
    stored.run("dq", first, "rows")
    warehouse.run("DELETE FROM orders WHERE id = 2")
    stored.run("dq", second, "rows")
    assert stored.ti("dq", first, "rows").state == S.SUCCESS
    assert stored.ti("dq", second, "rows").state == S.FAILED
    by_run = {(r.run_id, r.observed, r.passed) for r in rows(stored, "rows")}
    assert by_run == {(first, "true", True), (second, "false", False)}
    with stored.store.transaction() as session:
        runs = list(session.execute(table_runs_query("orders")))
    assert [tuple(run) for run in runs] == [("dq", second), ("dq", first)]  # newest first


def test_a_local_run_stores_nothing(stored: Stored, warehouse: SqlHook) -> None:
    # As `sluice dags test`: a store is set (for variables and connections), but the try
    # is no try of the metadata database, which must not get rows for it.
    path = stored.write("dq.py", SOURCE)
    dags, error, _ = import_dag_file(path)
    assert error is None
    with use_store(stored.store):
        result = LocalDagRun(dags[0], logical_date=LOGICAL_DATE, wait_for_retries=False).execute()
    states = {r.task_id: (r.state, r.try_number) for r in result.instances}
    assert states == {"columns": (S.FAILED, 2), "rows": (S.SUCCESS, 1)}
    with stored.store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(CheckResult)) == 0
