"""SqlSensor pokes a query until its first cell says so, on each database."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integrations.conftest import SqlConn

from sluice.core.errors import DagDefinitionError
from sluice.integrations.sql.operators import SqlOperatorError
from sluice.integrations.sql.sensors import SqlSensor, SqlSensorFailure


def sensor(**kwargs: Any) -> SqlSensor:
    kwargs.setdefault("task_id", "wait")
    kwargs.setdefault("conn_id", "warehouse")
    return SqlSensor(**kwargs)


@pytest.fixture
def flags(sql_conn: SqlConn) -> SqlConn:
    """A table ``flags (name, value)`` holding one row per kind of first cell."""
    hook = sql_conn.hook()
    hook.run("CREATE TABLE flags (name VARCHAR(10), value VARCHAR(10), n INTEGER)")
    hook.insert_rows(
        "flags",
        [
            ("zero", "0", 0),
            ("empty", "", None),
            ("null", None, None),
            ("yes", "yes", 5),
            ("two", "2", 2),
        ],
    )
    return sql_conn


@pytest.mark.parametrize(
    ("name", "column", "done"),
    [
        ("zero", "value", False),  # the string "0", as Airflow documents
        ("zero", "n", False),
        ("empty", "value", False),
        ("null", "value", False),
        ("yes", "value", True),
        ("two", "value", True),
        ("two", "n", True),
    ],
)
def test_the_first_cell_decides(flags: SqlConn, name: str, column: str, done: bool) -> None:
    sql = f"SELECT {column} FROM flags WHERE name = {flags.marker}"
    assert sensor(sql=sql, parameters=[name]).poke({}) is done


def test_no_row_waits_or_fails_on_empty(flags: SqlConn) -> None:
    sql = "SELECT value FROM flags WHERE name = 'absent'"
    assert sensor(sql=sql).poke({}) is False
    with pytest.raises(
        SqlSensorFailure, match="task 'wait': no rows returned, raising as per fail_on_empty"
    ):
        sensor(sql=sql, fail_on_empty=True).poke({})


def test_success_failure_and_selector(flags: SqlConn) -> None:
    sql = "SELECT n, name FROM flags WHERE name = 'yes'"
    assert sensor(sql=sql, success=lambda n: n > 4).poke({}) is True
    assert sensor(sql=sql, success=lambda n: n > 5).poke({}) is False
    assert sensor(sql=sql, selector=lambda row: row[1]).poke({}) is True
    # failure is checked before success.
    task = sensor(sql=sql, success=lambda n: True, failure=lambda n: n == 5)
    with pytest.raises(
        SqlSensorFailure, match=r"task 'wait': failure criteria met: failure\(5\) returned True"
    ):
        task.poke({})


def test_execute_returns_once_the_condition_holds(flags: SqlConn) -> None:
    task = sensor(sql="SELECT COUNT(*) FROM flags", poke_interval=0, timeout=60)
    assert task.execute({}) is None


def test_a_statement_that_returns_no_rows_is_an_error(flags: SqlConn) -> None:
    with pytest.raises(SqlSensorFailure, match="task 'wait': the SQL returns no rows"):
        sensor(sql="DELETE FROM flags WHERE name = 'absent'").poke({})
    with pytest.raises(SqlOperatorError, match="task 'wait': statement 1 of 1 failed"):
        sensor(sql="SELECT value FROM nowhere").poke({})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sql": ""}, "task 'wait': sql is empty"),
        ({"sql": ["SELECT 1"]}, "task 'wait': sql must be a string, got list"),
        ({"success": True}, "success must be callable, got True"),
        ({"failure": "no"}, "failure must be callable"),
        ({"hook_params": {"echo": True}}, "hook_params has unknown key\\(s\\) echo"),
        ({"conn_id": ""}, "conn_id must be a connection id"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_defined(kwargs: dict[str, Any], message: str) -> None:
    kwargs.setdefault("sql", "SELECT 1")
    with pytest.raises(DagDefinitionError, match=message):
        sensor(**kwargs)
