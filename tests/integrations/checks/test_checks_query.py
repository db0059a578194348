"""SQLCheckOperator, SQLValueCheckOperator, SQLThresholdCheckOperator and
SQLIntervalCheckOperator on each database, run as tasks of a local run (templates
rendered, the summary in XCom, the error on the failed instance)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.integrations.conftest import SqlConn

from sluice import DAG
from sluice.core.states import TaskInstanceState
from sluice.integrations.sql.checks import (
    DataQualityCheckFailed,
    SQLCheckOperator,
    SQLIntervalCheckOperator,
    SQLThresholdCheckOperator,
    SQLValueCheckOperator,
)
from sluice.runner.local_run import LocalDagRun
from sluice.runner.records import InstanceRecord
from sluice.runner.xcom import pull_one

S = TaskInstanceState
MakeRun = Callable[..., LocalDagRun]


def run_check(make_run: MakeRun, kind: type[Any], **kwargs: Any) -> tuple[InstanceRecord, Any]:
    """Run one check task in a local run; its record and its XCom summary."""
    kwargs.setdefault("conn_id", "warehouse")
    with DAG("dq", schedule=None) as dag:
        kind(task_id="check", **kwargs)
    run = make_run(dag)
    (record,) = run.execute().instances
    return record, pull_one(run.xcom, "check", -1, "return_value")


def test_sql_check_passes_when_every_value_is_truthy(orders: SqlConn, make_run: MakeRun) -> None:
    record, summary = run_check(
        make_run,
        SQLCheckOperator,
        sql="SELECT COUNT(*) AS row_count, MIN(amount) AS smallest FROM orders"
        " WHERE ds = '{{ ds }}'",
        table="orders",
    )
    assert record.state is S.SUCCESS, record.error
    assert [(i["name"], i["observed"], i["passed"]) for i in summary] == [
        ("row_count", "3", True),
        ("smallest", summary[1]["observed"], True),
    ]
    assert float(summary[1]["observed"]) == 5
    assert {(i["type"], i["table"]) for i in summary} == {("sql", "orders")}


def test_sql_check_names_the_falsy_value(orders: SqlConn, make_run: MakeRun) -> None:
    record, _ = run_check(
        make_run,
        SQLCheckOperator,
        sql="SELECT COUNT(*) AS total, SUM(CASE WHEN customer_id IS NULL THEN 0 ELSE 1 END)"
        " AS with_customer, COUNT(*) - COUNT(customer_id) AS missing_customers FROM orders"
        " WHERE id = {{ params.order }}",
        params={"order": 3},
    )
    assert record.state is S.FAILED
    assert "with_customer: observed 0, expected truthy" in (record.error or "")
    assert "total" not in (record.error or "").split("failed:")[1]
    assert "DataQualityCheckFailed: 1 of 3 data-quality check(s)" in (record.error or "")


def test_sql_check_with_parameters_and_no_rows(orders: SqlConn) -> None:
    marker = orders.marker
    op = SQLCheckOperator(
        task_id="check",
        conn_id="warehouse",
        sql=f"SELECT id FROM orders WHERE status = {marker}",
        parameters=["refunded"],
    )
    with pytest.raises(DataQualityCheckFailed, match="first row: observed no rows"):
        op.execute({})
    found = SQLCheckOperator(
        task_id="check",
        conn_id="warehouse",
        sql=f"SELECT id FROM orders WHERE status = {marker}",
        parameters=["open"],
    ).execute({})
    assert found[0]["observed"] == "3"


def test_value_check_numbers_within_tolerance(orders: SqlConn, make_run: MakeRun) -> None:
    sql = "SELECT COUNT(*), SUM(amount) FROM orders WHERE ds = '{{ ds }}'"
    # 3 rows and 32.75 are both within 20% of 30... 3 is not: a failure names it.
    record, _ = run_check(make_run, SQLValueCheckOperator, sql=sql, pass_value=30, tolerance=0.2)
    assert record.state is S.FAILED
    error = record.error or ""
    assert "observed 3, expected = 30 ± 20% (between 24 and 36)" in error
    assert "32.75" not in error  # the sum passed
    record, summary = run_check(
        make_run,
        SQLValueCheckOperator,
        sql="SELECT SUM(amount) AS total FROM orders WHERE ds = '{{ ds }}'",
        pass_value="{{ params.expected }}",
        tolerance=0.1,
        params={"expected": 30},
    )
    assert record.state is S.SUCCESS, record.error
    assert summary[0]["name"] == "total" and summary[0]["type"] == "value"
    exact, _ = run_check(make_run, SQLValueCheckOperator, sql="SELECT COUNT(*) FROM orders",
                         pass_value=4)  # fmt: skip
    assert exact.state is S.SUCCESS, exact.error


def test_value_check_text_is_compared_exactly(orders: SqlConn, make_run: MakeRun) -> None:
    sql = "SELECT status FROM orders WHERE id = 3"
    record, summary = run_check(make_run, SQLValueCheckOperator, sql=sql, pass_value="open")
    assert record.state is S.SUCCESS and summary[0]["expectation"] == "= 'open'"
    record, _ = run_check(make_run, SQLValueCheckOperator, sql=sql, pass_value="paid")
    assert record.state is S.FAILED and "observed open, expected = 'paid'" in (record.error or "")
    record, _ = run_check(make_run, SQLValueCheckOperator, sql=sql, pass_value=3)
    assert record.state is S.FAILED and "observed open (not a number)" in (record.error or "")


def test_threshold_check_with_numbers_and_sql(orders: SqlConn, make_run: MakeRun) -> None:
    count = "SELECT COUNT(*) AS orders_today FROM orders WHERE ds = '{{ ds }}'"
    record, summary = run_check(
        make_run, SQLThresholdCheckOperator, sql=count, min_threshold=1, max_threshold="3"
    )
    assert record.state is S.SUCCESS, record.error
    assert summary == [
        {
            "name": "orders_today", "type": "threshold", "table": None, "column": None,
            "observed": "3", "expectation": "between 1 and 3", "passed": True,
            "severity": "error", "outcome": "pass",
        }
    ]  # fmt: skip
    record, _ = run_check(
        make_run,
        SQLThresholdCheckOperator,
        sql=count,
        min_threshold="SELECT MAX(id) FROM orders",  # 4
        max_threshold="SELECT 10",
        table="orders",
    )
    assert record.state is S.FAILED
    assert (
        "orders_today on orders: observed 3, expected between 4 and 10 (min_threshold from"
        " SQL; max_threshold from SQL)" in (record.error or "")
    )
    record, _ = run_check(
        make_run,
        SQLThresholdCheckOperator,
        sql=count,
        min_threshold="SELECT MAX(id) FROM orders WHERE id > 100",
        max_threshold=10,
    )
    assert record.state is S.FAILED
    assert "between ? and 10 (min_threshold SQL gave NULL, not a number)" in (record.error or "")


def test_interval_check_compares_with_days_back(orders: SqlConn, make_run: MakeRun) -> None:
    # On 2024-03-15 (the run's ds): 3 orders, max amount 20.50; on 2024-03-08: 1, 100.
    record, summary = run_check(
        make_run,
        SQLIntervalCheckOperator,
        table="orders",
        metrics_thresholds={"COUNT(*)": 3.5, "MAX(amount)": 5},
    )
    assert record.state is S.SUCCESS, record.error
    assert [(i["name"], i["passed"]) for i in summary] == [
        ("COUNT(*)", True),
        ("MAX(amount)", True),
    ]
    assert summary[0]["observed"] == "3 (now 3, before 1)"
    expected = "max_over_min of now to 7 day(s) before < 3.5 (a zero passes)"
    assert summary[0]["expectation"] == expected
    record, _ = run_check(
        make_run,
        SQLIntervalCheckOperator,
        table="orders",
        metrics_thresholds={"COUNT(*)": 2},
        ratio_formula="relative_diff",
        days_back=7,
    )
    assert record.state is S.FAILED
    assert "COUNT(*) on orders: observed 2 (now 3, before 1)" in (record.error or "")


def test_interval_check_zero_metrics(orders: SqlConn, make_run: MakeRun) -> None:
    metrics = {"SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END)": 1.5}
    record, summary = run_check(
        make_run, SQLIntervalCheckOperator, table="orders", metrics_thresholds=metrics
    )
    assert record.state is S.SUCCESS, record.error
    assert summary[0]["observed"] == "no ratio: a zero (now 1, before 0)"
    record, _ = run_check(
        make_run,
        SQLIntervalCheckOperator,
        table="orders",
        metrics_thresholds=metrics,
        ignore_zero=False,
    )
    assert record.state is S.FAILED and "no ratio: a zero" in (record.error or "")
