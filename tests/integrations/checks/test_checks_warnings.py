"""Warning mode: a failed check of severity warn is logged and recorded, the task goes on;
errors fail it (with retries, or at once with retry_on_failure=False)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from tests.integrations.conftest import SqlConn

from sluice import DAG
from sluice.core.states import TaskInstanceState
from sluice.integrations.sql.checks import SQLColumnCheckOperator, SQLTableCheckOperator
from sluice.runner.local_run import LocalDagRun
from sluice.runner.xcom import pull_one

S = TaskInstanceState
NO_NULL_CUSTOMERS = {"customer_id": {"null_check": {"equal_to": 0}}}


def test_an_operator_of_severity_warn_succeeds_with_failed_checks(
    orders: SqlConn, make_run: Callable[..., LocalDagRun], caplog: pytest.LogCaptureFixture
) -> None:
    with DAG("dq", schedule=None) as dag:
        SQLColumnCheckOperator(task_id="check", conn_id="warehouse", table="orders",
                               column_mapping=NO_NULL_CUSTOMERS, severity="warn")  # fmt: skip
    run = make_run(dag)
    with caplog.at_level(logging.WARNING, logger="sluice.task"):
        (record,) = run.execute().instances
    assert record.state is S.SUCCESS, record.error
    (summary,) = pull_one(run.xcom, "check", -1, "return_value")
    assert (summary["passed"], summary["severity"], summary["outcome"]) == (False, "warn", "warn")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "check failed (a warning, the task goes on): null_check on orders.customer_id:"
        " observed 1" in message
        for message in warnings
    ), warnings


def test_a_warn_entry_among_errors(orders: SqlConn, make_run: Callable[..., LocalDagRun]) -> None:
    with DAG("dq", schedule=None) as dag:
        SQLTableCheckOperator(
            task_id="check",
            conn_id="warehouse",
            table="orders",
            checks={
                "has_customer": {"check_statement": "customer_id IS NOT NULL", "severity": "warn"},
                "row_count_check": {"check_statement": "COUNT(*) = 4"},
            },
        )
        SQLTableCheckOperator(
            task_id="strict",
            conn_id="warehouse",
            table="orders",
            checks={
                "has_customer": {"check_statement": "customer_id IS NOT NULL", "severity": "warn"},
                "big_orders": {"check_statement": "amount > 50"},
            },
        )
    run = make_run(dag)
    records = {r.task_id: r for r in run.execute().instances}
    assert records["check"].state is S.SUCCESS, records["check"].error
    outcomes = [i["outcome"] for i in pull_one(run.xcom, "check", -1, "return_value")]
    assert outcomes == ["warn", "pass"]
    error = records["strict"].error or ""
    assert records["strict"].state is S.FAILED
    assert "1 of 2 data-quality check(s) of task 'strict' failed" in error
    assert "big_orders on orders: observed false" in error and "has_customer" not in error


def test_retries_and_retry_on_failure(
    orders: SqlConn, make_run: Callable[..., LocalDagRun]
) -> None:
    with DAG("dq", schedule=None) as dag:
        for task_id, retry in (("retried", True), ("final", False)):
            SQLColumnCheckOperator(task_id=task_id, conn_id="warehouse", table="orders",
                                   column_mapping=NO_NULL_CUSTOMERS, retries=2,
                                   retry_on_failure=retry)  # fmt: skip
    records = {r.task_id: r for r in make_run(dag).execute().instances}
    assert (records["retried"].state, records["retried"].try_number) == (S.FAILED, 3)
    assert (records["final"].state, records["final"].try_number) == (S.FAILED, 1)
    assert "DataQualityCheckFailedNoRetry" in (records["final"].error or "")
