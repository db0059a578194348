"""SQLColumnCheckOperator and SQLTableCheckOperator on each database: passing, failing
with every failed check named, partition clauses, tolerance and NULL results."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integrations.conftest import SqlConn

from sluice.integrations.sql.checks import (
    DataQualityCheckFailed,
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
)
from sluice.integrations.sql.operators import SqlOperatorError


def column_check(**kwargs: Any) -> SQLColumnCheckOperator:
    kwargs.setdefault("conn_id", "warehouse")
    kwargs.setdefault("task_id", "columns")
    kwargs.setdefault("table", "orders")
    return SQLColumnCheckOperator(**kwargs)


def table_check(**kwargs: Any) -> SQLTableCheckOperator:
    kwargs.setdefault("conn_id", "warehouse")
    kwargs.setdefault("task_id", "tables")
    kwargs.setdefault("table", "orders")
    return SQLTableCheckOperator(**kwargs)


def by_name(summary: list[dict[str, Any]]) -> dict[tuple[str | None, str], dict[str, Any]]:
    return {(item["column"], item["name"]): item for item in summary}


def test_column_checks_pass_in_one_query(orders: SqlConn) -> None:
    op = column_check(
        column_mapping={
            "id": {
                "null_check": {"equal_to": 0},
                "unique_check": {"equal_to": 0},
                "min": {"geq_to": 1},
                "max": {"leq_to": 4},
            },
            "customer_id": {"distinct_check": {"equal_to": 2}},
            "amount": {"max": {"less_than": 100, "tolerance": 0.01}},  # 100 < 101
            "status": {"min": {"equal_to": "open"}, "max": {"leq_to": "paid"}},
        }
    )
    assert op.sql.count("SELECT") == 1 and op.sql.count("FROM orders") == 1
    summary = op.execute({})
    assert all(item["passed"] and item["outcome"] == "pass" for item in summary), summary
    found = by_name(summary)
    assert found[("id", "max")]["observed"] == "4"
    assert found[("id", "max")]["expectation"] == "max leq_to 4"
    assert found[("customer_id", "distinct_check")]["observed"] == "2"
    assert float(found[("amount", "max")]["observed"]) == 100
    assert found[("amount", "max")]["expectation"] == "max less_than 100 (tolerance 1%)"
    assert found[("status", "min")]["observed"] == "open"
    assert {item["type"] for item in summary} == {"column"}
    assert {item["table"] for item in summary} == {"orders"}


def test_every_failed_column_check_is_named(orders: SqlConn) -> None:
    op = column_check(
        column_mapping={
            "customer_id": {"null_check": {"equal_to": 0}, "distinct_check": {"geq_to": 1}},
            "amount": {"min": {"greater_than": 5}},  # 5.00 is not > 5
            "id": {"max": {"less_than": 3}},
        }
    )
    with pytest.raises(DataQualityCheckFailed) as caught:
        op.execute({})
    message = str(caught.value)
    assert "3 of 4 data-quality check(s) of task 'columns' failed" in message
    assert "null_check on orders.customer_id: observed 1, expected null_check equal_to 0" in message
    assert "min on orders.amount: observed 5" in message and "min greater_than 5" in message
    assert "max on orders.id: observed 4, expected max less_than 3" in message
    assert "distinct_check" not in message  # it passed
    assert [(o.column, o.name) for o in caught.value.failed] == [
        ("customer_id", "null_check"),
        ("amount", "min"),
        ("id", "max"),
    ]


def test_partition_clauses_of_the_operator_and_of_a_check(orders: SqlConn) -> None:
    op = column_check(
        partition_clause="ds = '2024-03-15'",
        column_mapping={
            "id": {
                "max": {"equal_to": 3},  # order 4 is a week older
                "min": {"equal_to": 2, "partition_clause": "status = 'paid' AND amount > 10"},
            },
            "customer_id": {"null_check": {"equal_to": 0, "partition_clause": "status = 'paid'"}},
            "amount": {"distinct_check": {"equal_to": 1, "partition_clause": "id = 1"}},
        },
    )
    summary = op.execute({})
    found = by_name(summary)
    assert all(item["passed"] for item in summary), summary
    assert found[("id", "min")]["expectation"] == (
        "min equal_to 2 where ds = '2024-03-15' AND status = 'paid' AND amount > 10"
    )
    assert found[("id", "max")]["expectation"] == "max equal_to 3 where ds = '2024-03-15'"


def test_null_results_count_as_zero_unless_refused(orders: SqlConn) -> None:
    mapping = {"id": {"null_check": {"equal_to": 0}, "max": {"leq_to": 10}}}
    nothing = "ds = '1999-01-01'"
    summary = column_check(column_mapping=mapping, partition_clause=nothing).execute({})
    assert [(i["observed"], i["passed"]) for i in summary] == [(None, True), (None, True)]
    strict = column_check(column_mapping=mapping, partition_clause=nothing, accept_none=False)
    with pytest.raises(DataQualityCheckFailed, match="observed NULL, expected null_check"):
        strict.execute({})


def test_tolerance_widens_the_bounds_as_airflow(orders: SqlConn) -> None:
    # 3 distinct ids on the day, 3 is within 10% of 2.8, not 2.5.
    near = {"id": {"distinct_check": {"equal_to": 2.8, "tolerance": 0.1}}}
    assert column_check(column_mapping=near, partition_clause="ds = '2024-03-15'").execute({})
    far = {"id": {"distinct_check": {"equal_to": 2.5, "tolerance": 0.1}}}
    with pytest.raises(DataQualityCheckFailed, match=r"distinct_check equal_to 2\.5"):
        column_check(column_mapping=far, partition_clause="ds = '2024-03-15'").execute({})


def test_table_checks_aggregate_and_row_level(orders: SqlConn) -> None:
    op = table_check(
        checks={
            "row_count_check": {"check_statement": "COUNT(*) = 4"},
            "amount_positive": {"check_statement": "amount > 0"},
            "two_paid": {
                "check_statement": "COUNT(*) = 2",
                "partition_clause": "status = 'paid'",
                "severity": "warn",
            },
        },
        partition_clause="ds >= '2024-03-01'",
    )
    assert op.sql.count("UNION ALL") == 2  # one query for the three checks
    summary = op.execute({})
    assert [(i["name"], i["observed"], i["outcome"]) for i in summary] == [
        ("row_count_check", "true", "pass"),
        ("amount_positive", "true", "pass"),
        ("two_paid", "false", "warn"),  # three orders are paid
    ]
    assert summary[2]["expectation"] == "COUNT(*) = 2 where ds >= '2024-03-01' AND status = 'paid'"
    assert {(i["type"], i["table"], i["column"]) for i in summary} == {("table", "orders", None)}


def test_failed_table_checks_are_listed(orders: SqlConn) -> None:
    op = table_check(
        checks={
            "row_count_check": {"check_statement": "COUNT(*) >= 10"},
            "has_customer": {"check_statement": "customer_id IS NOT NULL"},
            "amount_positive": {"check_statement": "amount > 0"},
        }
    )
    with pytest.raises(DataQualityCheckFailed) as caught:
        op.execute({})
    message = str(caught.value)
    assert "2 of 3 data-quality check(s) of task 'tables' failed" in message
    assert "row_count_check on orders: observed false, expected COUNT(*) >= 10" in message
    assert "has_customer on orders: observed false, expected customer_id IS NOT NULL" in message
    assert "amount_positive" not in message


def test_a_row_level_check_with_no_rows_fails(orders: SqlConn) -> None:
    op = table_check(
        checks={"amount_positive": {"check_statement": "amount > 0"}},
        partition_clause="ds = '1999-01-01'",
    )
    with pytest.raises(DataQualityCheckFailed, match="observed no rows, expected amount > 0 where"):
        op.execute({})


def test_a_missing_table_is_a_sql_error_naming_the_task(sql_conn: SqlConn) -> None:
    op = table_check(checks={"rows": {"check_statement": "COUNT(*) > 0"}}, table="nowhere")
    with pytest.raises(SqlOperatorError, match=r"task 'tables'.*failed"):
        op.execute({})
