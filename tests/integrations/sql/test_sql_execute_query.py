"""SQLExecuteQueryOperator and BaseSQLOperator on each database."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.integrations.conftest import SqlConn

from sluice import DAG
from sluice.core.errors import DagDefinitionError, FailTask, TemplateError
from sluice.core.xcom_codec import decode_xcom, encode_xcom
from sluice.integrations.sql.hook import SqlHook
from sluice.integrations.sql.operators import (
    BaseSQLOperator,
    SQLExecuteQueryOperator,
    SqlOperatorError,
    to_xcom_value,
)
from sluice.sdk.templating import make_environment, render_template_fields


def query(**kwargs: Any) -> SQLExecuteQueryOperator:
    kwargs.setdefault("conn_id", "warehouse")
    kwargs.setdefault("task_id", "q")
    return SQLExecuteQueryOperator(**kwargs)


def _people(sql_conn: SqlConn) -> SqlHook:
    hook = sql_conn.hook()
    hook.run("CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(20))")
    hook.insert_rows("people", [(1, "Ada"), (2, "Bob")])
    return hook


def test_a_query_returns_its_rows_as_lists(sql_conn: SqlConn) -> None:
    _people(sql_conn)
    assert query(sql="SELECT id, name FROM people ORDER BY id").execute({}) == [
        [1, "Ada"],
        [2, "Bob"],
    ]


def test_results_per_statement_follow_airflow(sql_conn: SqlConn) -> None:
    hook = _people(sql_conn)
    insert = "INSERT INTO people VALUES (3, 'Cy')"
    count = "SELECT COUNT(*) FROM people"
    # A list of statements: one result per statement, even with return_last.
    assert query(sql=[insert, count]).execute({}) == [None, [[3]]]
    # One string split in statements: the last result, or all with return_last=False.
    both = "INSERT INTO people VALUES (4, 'Dee'); SELECT COUNT(*) FROM people;"
    assert query(sql=both, split_statements=True).execute({}) == [[4]]
    again = both.replace("4", "5")
    assert query(sql=again, split_statements=True, return_last=False).execute({}) == [
        None,
        [[5]],
    ]
    assert hook.get_first(count) == (5,)


def test_without_xcom_push_the_statements_run_and_nothing_is_returned(sql_conn: SqlConn) -> None:
    hook = _people(sql_conn)
    task = query(sql="DELETE FROM people WHERE id = 1", do_xcom_push=False)
    assert task.execute({}) is None
    assert hook.get_records("SELECT id FROM people") == [(2,)]


def test_parameters_in_the_drivers_style(sql_conn: SqlConn) -> None:
    _people(sql_conn)
    marker = sql_conn.marker
    positional = query(sql=f"SELECT name FROM people WHERE id = {marker}", parameters=[2])
    assert positional.execute({}) == [["Bob"]]
    named = ":id" if sql_conn.backend == "sqlite" else "%(id)s"
    task = query(sql=f"SELECT name FROM people WHERE id = {named}", parameters={"id": 1})
    assert task.execute({}) == [["Ada"]]
    # Without parameters a % is a plain character, on every driver.
    assert query(sql="SELECT name FROM people WHERE name LIKE 'A%'").execute({}) == [["Ada"]]


def test_a_failing_statement_rolls_the_transaction_back(sql_conn: SqlConn) -> None:
    hook = _people(sql_conn)
    task = query(sql=["DELETE FROM people WHERE id = 1", "INSERT INTO nowhere VALUES (1)"])
    with pytest.raises(SqlOperatorError) as caught:
        task.execute({})
    message = str(caught.value)
    assert message.startswith("task 'q': statement 2 of 2 failed: ")
    assert "nowhere" in message
    assert message.endswith(
        "statement: INSERT INTO nowhere VALUES (1)\n"
        "the transaction was rolled back: nothing was committed"
    )
    assert hook.get_records("SELECT id FROM people ORDER BY id") == [(1,), (2,)]


def test_with_autocommit_the_statements_before_a_failure_stay(sql_conn: SqlConn) -> None:
    hook = _people(sql_conn)
    sql = "DELETE FROM people WHERE id = 1; INSERT INTO people VALUES (2, 'again')"
    task = query(sql=sql, split_statements=True, autocommit=True)
    with pytest.raises(SqlOperatorError) as caught:
        task.execute({})
    assert "statement 2 of 2 failed: IntegrityError: " in str(caught.value)
    assert str(caught.value).endswith("the statements before it were committed (autocommit=True)")
    assert hook.get_records("SELECT id FROM people ORDER BY id") == [(2,)]


def test_values_are_made_fit_for_xcom(sql_conn: SqlConn) -> None:
    hook = sql_conn.hook()
    hook.run(
        "CREATE TABLE sales (id INTEGER, amount NUMERIC(10, 2), whole NUMERIC(10, 0),"
        " sold_on DATE, sold_at TIMESTAMP NULL)"
    )
    hook.run("INSERT INTO sales VALUES (1, 12.50, 7, '2024-03-15', '2024-03-15 10:30:00')")
    result = query(sql="SELECT amount, whole, sold_on, sold_at FROM sales").execute({})
    if sql_conn.backend == "sqlite":  # no date types: text, as stored
        assert result == [[12.5, 7, "2024-03-15", "2024-03-15 10:30:00"]]
    else:
        assert result == [[12.5, 7, date(2024, 3, 15), datetime(2024, 3, 15, 10, 30)]]
        assert type(result[0][1]) is int
    assert decode_xcom(encode_xcom(result, where="q")) == result


def test_to_xcom_value_converts_what_json_cannot_hold() -> None:
    ident = uuid.UUID(int=1)
    row = (Decimal("12.50"), Decimal("1E+2"), Decimal("NaN"), time(10, 30), ident, None)
    assert to_xcom_value([row], "task 'q'") == [[12.5, 100, "NaN", "10:30:00", str(ident), None]]
    moment = datetime(2024, 3, 15, tzinfo=UTC)
    assert to_xcom_value({"at": moment, "rows": ((1,),)}, "w") == {"at": moment, "rows": [[1]]}
    with pytest.raises(SqlOperatorError, match="task 'q': the result holds binary data"):
        to_xcom_value([(b"\x00\x01",)], "task 'q'")


def test_binary_results_roll_back_before_anything_is_committed(sql_conn: SqlConn) -> None:
    hook = _people(sql_conn)
    blob = {"sqlite": "X'00'", "postgresql": "'\\x00'::bytea", "mysql": "BINARY '0'"}
    task = query(sql=["DELETE FROM people", f"SELECT {blob[sql_conn.backend]}"])
    with pytest.raises(SqlOperatorError, match="binary data"):
        task.execute({})
    assert hook.get_first("SELECT COUNT(*) FROM people") == (2,)


def test_database_overrides_the_connections_schema(
    sql_conn: SqlConn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _people(sql_conn)
    real = sql_conn.hook().connection
    if sql_conn.backend == "sqlite":
        database = real.host
        wrong = "sqlite://" + str(tmp_path / "nowhere" / "x.db").replace("/", "%2F")
    else:
        database = real.schema
        wrong = sql_conn.uri.rsplit("/", 1)[0] + "/no_such_database"
    monkeypatch.setenv("SLUICE_CONN_ELSEWHERE", wrong)
    task = query(conn_id="elsewhere", database=database, sql="SELECT COUNT(*) FROM people")
    assert task.execute({}) == [[2]]
    assert task.get_db_hook().schema == database


def test_hook_params_and_show_return_value_in_logs(
    sql_conn: SqlConn, caplog: pytest.LogCaptureFixture
) -> None:
    _people(sql_conn)
    caplog.set_level(logging.INFO, logger="sluice.task")
    task = query(
        sql="SELECT COUNT(*) FROM people",
        hook_params={"log_sql": False},
        show_return_value_in_logs=True,
    )
    assert task.execute({}) == [[2]]
    messages = [r.getMessage() for r in caplog.records]
    assert "Operator output is: [[2]]" in messages
    assert not any(m.startswith("Running statement") for m in messages)


def test_a_connection_sqlhook_cannot_open_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_CONN_API", "http://example.com")
    with pytest.raises(SqlOperatorError) as caught:
        query(conn_id="api", sql="SELECT 1").execute({})
    assert str(caught.value) == (
        "task 'q': connection 'api' is of type 'http', which SqlHook cannot open: use one of"
        " mariadb, mysql, postgres, sqlite"
    )


def test_a_bad_split_names_the_task(sql_conn: SqlConn) -> None:
    task = query(sql="SELECT 1; SELECT 'open", split_statements=True)
    with pytest.raises(SqlOperatorError, match="task 'q': cannot split the SQL: the ' quote"):
        task.execute({})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sql": "  "}, "task 'q': sql is empty: give the SQL to run"),
        ({"sql": []}, "task 'q': sql is an empty list"),
        ({"sql": ["SELECT 1", 2]}, "task 'q': sql[1] must be a non-empty SQL string, got 2"),
        ({"sql": 5}, "task 'q': sql must be a string or a list of strings, got int"),
        ({"sql": "SELECT 1", "conn_id": None}, "task 'q': conn_id is required"),
        ({"sql": "SELECT 1", "conn_id": ""}, "task 'q': conn_id must be a connection id"),
        ({"sql": "SELECT 1", "hook_params": {"pool": 1}}, "hook_params has unknown key"),
        ({"sql": "SELECT 1", "parameters": "x"}, "parameters must be a dict"),
        ({"sql": "SELECT 1", "handler": "all"}, "handler must be callable"),
        ({"sql": "SELECT 1", "database": ""}, "database must be a non-empty string"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_defined(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DagDefinitionError, match=message.replace("[", r"\[")):
        query(**kwargs)


def test_sql_files_render_from_the_search_path(sql_conn: SqlConn, tmp_path: Path) -> None:
    _people(sql_conn)
    (tmp_path / "count.sql").write_text("SELECT COUNT(*) FROM people WHERE id <= {{ params.n }}")
    with DAG("d", schedule=None, template_searchpath=str(tmp_path)) as dag:
        task = query(sql="count.sql", params={"n": 1})
        missing = query(task_id="missing", sql="nowhere.sql")
        blank = query(task_id="blank", sql="{{ params.empty }}", params={"empty": " "})
    env = make_environment(dag)
    render_template_fields(task, {"params": task.params}, env)
    assert task.sql == "SELECT COUNT(*) FROM people WHERE id <= 1"
    assert task.execute({}) == [[1]]
    with pytest.raises(TemplateError, match="task 'missing' field 'sql': template file"):
        render_template_fields(missing, {"params": {}}, env)
    render_template_fields(blank, {"params": blank.params}, env)
    with pytest.raises(SqlOperatorError, match="sql rendered to ' ', which is no SQL to run"):
        blank.execute({})


def test_base_operator_raises_as_retry_on_failure_says() -> None:
    retried = BaseSQLOperator(task_id="a", conn_id="warehouse")
    with pytest.raises(SqlOperatorError, match="bad data"):
        retried._raise_exception("bad data")
    final = BaseSQLOperator(task_id="b", conn_id="warehouse", retry_on_failure=False)
    with pytest.raises(FailTask, match="bad data"):
        final._raise_exception("bad data")
    assert final.template_fields == ("conn_id", "database", "hook_params")
    assert SQLExecuteQueryOperator.template_fields[:3] == ("sql", "parameters", "conn_id")
