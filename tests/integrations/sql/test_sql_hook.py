"""SqlHook.run returns results as Airflow's DbApiHook.run does; the transaction helpers
the operators build on."""

from __future__ import annotations

import pytest
from tests.integrations.conftest import SqlConn

from sluice.integrations.sql.hook import SqlHookError, fetch_all_handler


def test_run_returns_one_result_or_one_per_statement(sql_conn: SqlConn) -> None:
    hook = sql_conn.hook()
    hook.run("CREATE TABLE t (n INTEGER)")
    both = "INSERT INTO t VALUES (1); SELECT n FROM t"
    run = hook.run
    assert run("SELECT n FROM t", handler=fetch_all_handler) == []
    assert run(both, handler=fetch_all_handler, split_statements=True) == [(1,)]
    result = run(both, handler=fetch_all_handler, split_statements=True, return_last=False)
    assert result == [None, [(1,), (1,)]]
    # A list of statements gives a result per statement, even with return_last.
    assert run(["SELECT 1", "SELECT 2"], handler=fetch_all_handler) == [[(1,)], [(2,)]]
    assert hook.get_first(["SELECT 1", "SELECT 2"]) == [(1,), (2,)]
    assert run(both, split_statements=True) is None
    assert hook.get_first("SELECT COUNT(*) FROM t") == (3,)


def test_run_refuses_empty_sql(sql_conn: SqlConn) -> None:
    hook = sql_conn.hook()
    for sql in ("", " ; -- nothing", [" "]):
        with pytest.raises(SqlHookError, match="no SQL statement to run: the SQL is empty"):
            hook.run(sql, split_statements=True)
    with pytest.raises(SqlHookError, match="a SQL statement must be a string, got int"):
        hook.run(["SELECT 1", 2])  # type: ignore[list-item]


def test_statements_and_inserts_share_one_transaction(sql_conn: SqlConn) -> None:
    hook = sql_conn.hook()
    hook.run("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    hook.insert_rows("t", [(1,)])
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), hook.transaction() as conn:
        hook.execute_in(conn, "DELETE FROM t").close()
        assert hook.insert_rows_in(conn, "t", [(1,), (2,)], commit_every=1) == 2
        hook.insert_rows_in(conn, "t", [(2,)])
    assert hook.get_records("SELECT n FROM t") == [(1,)]
    with pytest.raises(SqlHookError, match="commit_every must be an integer of at least 1"):
        hook.insert_rows("t", [(3,)], commit_every=0)


def test_replace_where_the_database_has_it(sql_conn: SqlConn) -> None:
    hook = sql_conn.hook()
    hook.run("CREATE TABLE t (n INTEGER PRIMARY KEY, label VARCHAR(5))")
    hook.insert_rows("t", [(1, "a")])
    if sql_conn.backend == "postgresql":
        with pytest.raises(SqlHookError, match="PostgreSQL has no REPLACE"):
            hook.insert_rows("t", [(1, "b")], replace=True)
        return
    assert hook.insert_rows("t", [(1, "b")], replace=True) == 1
    assert hook.get_records("SELECT n, label FROM t") == [(1, "b")]
