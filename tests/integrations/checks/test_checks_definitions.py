"""Bad check definitions are DagDefinitionErrors when the DAG is defined, naming the task
and the check; a DAG file that imports the operators imports nothing heavy."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from sluice import DAG
from sluice.core.errors import DagDefinitionError
from sluice.integrations.sql.checks import (
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLIntervalCheckOperator,
    SQLTableCheckOperator,
    SQLThresholdCheckOperator,
    SQLValueCheckOperator,
)

WHERE = "task 'check' of DAG 'dq'"


def define(kind: type[Any], **kwargs: Any) -> Any:
    kwargs.setdefault("conn_id", "warehouse")
    with DAG("dq", schedule=None):
        return kind(task_id="check", **kwargs)


def columns(mapping: Any, **kwargs: Any) -> Any:
    return define(SQLColumnCheckOperator, table="orders", column_mapping=mapping, **kwargs)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({}, "column_mapping must be a non-empty dict"),
        ({"id": {}}, "column 'id' needs a non-empty dict of checks"),
        ({"id": {"nul_check": {"equal_to": 0}}}, "column 'id' check 'nul_check': unknown check"),
        ({"id": {"null_check": {"equals": 0}}}, "check 'null_check': unknown comparison 'equals'"),
        ({"id": {"null_check": {"tolerance": 0.1}}}, "give one or more of less_than"),
        ({"id": {"null_check": 0}}, "check 'null_check': needs a dict"),
        ({"id": {"null_check": {"equal_to": "none"}}}, "equal_to must be a number, got 'none'"),
        ({"id": {"min": {"equal_to": 1, "geq_to": 0}}}, "equal_to cannot be combined"),
        ({"id": {"min": {"greater_than": 1, "geq_to": 0}}}, "only one of greater_than and geq_to"),
        ({"id": {"min": {"less_than": 1, "leq_to": 0}}}, "only one of less_than and leq_to"),
        ({"id": {"min": {"greater_than": 5, "less_than": 5}}}, "leave no value that passes"),
        ({"id": {"min": {"geq_to": 6, "leq_to": 5}}}, "leave no value that passes"),
        ({"id": {"max": {"geq_to": 1, "leq_to": "z"}}}, "must both be numbers or both text"),
        ({"s": {"min": {"equal_to": "a", "tolerance": 0.1}}}, "tolerance applies to numbers only"),
        ({"id": {"max": {"equal_to": 1, "tolerance": "lots"}}}, "tolerance must be a number >= 0"),
        ({"id": {"max": {"equal_to": 1, "tolerance": -0.1}}}, "tolerance must be a number >= 0"),
        ({"id": {"max": {"equal_to": 1, "severity": "fatal"}}}, "severity must be 'error' or"),
        ({"id": {"max": {"equal_to": 1, "partition_clause": "a; DROP"}}}, "may not hold ';'"),
    ],
)
def test_bad_column_mappings(mapping: Any, message: str) -> None:
    with pytest.raises(DagDefinitionError, match=message) as caught:
        columns(mapping)
    assert str(caught.value).startswith(WHERE)


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        ({}, "checks must be a non-empty dict"),
        ({"rows": "COUNT(*) > 0"}, "check 'rows': needs a dict with a check_statement"),
        ({"rows": {"statement": "COUNT(*) > 0"}}, "check 'rows': unknown key 'statement'"),
        ({"rows": {"check_statement": " "}}, "check 'rows': check_statement must be a SQL"),
        ({"rows": {"check_statement": "x", "severity": "info"}}, "check 'rows': severity must"),
        ({"rows": {"check_statement": "x", "partition_clause": 3}}, "partition_clause must be"),
    ],
)
def test_bad_table_checks(checks: Any, message: str) -> None:
    with pytest.raises(DagDefinitionError, match=message) as caught:
        define(SQLTableCheckOperator, table="orders", checks=checks)
    assert str(caught.value).startswith(WHERE)


@pytest.mark.parametrize(
    ("kind", "kwargs", "message"),
    [
        (SQLCheckOperator, {"sql": ""}, "sql must be non-empty text"),
        (SQLCheckOperator, {"sql": "SELECT 1", "severity": "warning"}, "severity must be 'error'"),
        (SQLCheckOperator, {"sql": "SELECT 1", "conn_id": None}, "conn_id is required"),
        (SQLCheckOperator, {"sql": "SELECT 1", "parameters": 5}, "parameters must be a dict"),
        (SQLValueCheckOperator, {"sql": "SELECT 1", "pass_value": None}, "pass_value is None"),
        (
            SQLValueCheckOperator,
            {"sql": "SELECT 'a'", "pass_value": "a", "tolerance": 0.1},
            "tolerance applies to a numeric pass_value, not to 'a'",
        ),
        (
            SQLValueCheckOperator,
            {"sql": "SELECT 1", "pass_value": 1, "tolerance": "some"},
            "tolerance must be a number >= 0",
        ),
        (
            SQLThresholdCheckOperator,
            {"sql": "SELECT 1", "min_threshold": 5, "max_threshold": 1},
            "min_threshold 5 is above max_threshold 1",
        ),
        (
            SQLThresholdCheckOperator,
            {"sql": "SELECT 1", "min_threshold": None, "max_threshold": 1},
            "min_threshold must be a number or SQL",
        ),
        (
            SQLIntervalCheckOperator,
            {"table": "t", "metrics_thresholds": {"COUNT(*)": 1.5}, "ratio_formula": "ratio"},
            "ratio_formula 'ratio' is not one of max_over_min, relative_diff",
        ),
        (
            SQLIntervalCheckOperator,
            {"table": "t", "metrics_thresholds": {}},
            "metrics_thresholds must be a non-empty dict",
        ),
        (
            SQLIntervalCheckOperator,
            {"table": "t", "metrics_thresholds": {"COUNT(*)": "big"}},
            "the threshold of metric 'COUNT\\(\\*\\)' must be a number > 0",
        ),
        (
            SQLIntervalCheckOperator,
            {"table": "t", "metrics_thresholds": {"COUNT(*)": 2}, "days_back": "7"},
            "days_back must be a whole number",
        ),
        (
            SQLColumnCheckOperator,
            {"table": "", "column_mapping": {"id": {"null_check": {"equal_to": 0}}}},
            "table must be non-empty text",
        ),
        (
            SQLColumnCheckOperator,
            {
                "table": "t",
                "column_mapping": {"id": {"min": {"equal_to": 0}}},
                "partition_clause": "1=1; DELETE FROM t",
            },
            "partition_clause may not hold ';'",
        ),
    ],
)
def test_bad_operator_arguments(kind: type[Any], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DagDefinitionError, match=message) as caught:
        define(kind, **kwargs)
    assert str(caught.value).startswith(WHERE)


def test_a_templated_pass_value_is_judged_when_rendered() -> None:
    op = define(SQLValueCheckOperator, sql="SELECT 1", pass_value="{{ params.x }}", tolerance=0.1)
    op.pass_value = "not a number"  # as a template could render it
    with pytest.raises(DagDefinitionError, match="tolerance applies to a numeric pass_value"):
        op.expected()


def test_good_definitions_keep_airflow_attributes() -> None:
    op = define(
        SQLIntervalCheckOperator, table="t", metrics_thresholds={"COUNT(*)": 1.5}, days_back=3
    )
    assert op.days_back == -3 and op.metrics_sorted == ["COUNT(*)"]
    assert op.sql2 == "SELECT COUNT(*) FROM t WHERE ds='{{ macros.ds_add(ds, -3) }}'"
    value = define(SQLValueCheckOperator, sql="SELECT 1", pass_value=10, tolerance="0.5")
    assert value.pass_value == "10" and value.tolerance == 0.5
    column = columns({"id": {"null_check": {"equal_to": 0, "severity": "warn"}}}, severity="error")
    assert [rule.severity for rule in column.rules] == ["warn"]


def test_importing_the_operators_imports_nothing_heavy() -> None:
    code = (
        "import sys, sluice.integrations.sql.checks\n"
        "heavy = {'sqlalchemy', 'requests', 'boto3', 'pyarrow', 'smtplib'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
