"""GenericTransfer copies rows between connections, streamed, in one transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.integrations.conftest import SqlConn

from sluice.core.errors import DagDefinitionError
from sluice.integrations.sql.hook import SqlHook
from sluice.integrations.sql.operators import SqlOperatorError
from sluice.integrations.sql.transfer import GenericTransfer

PEOPLE = "CREATE TABLE {} (id INTEGER PRIMARY KEY, name VARCHAR(20))"


@pytest.fixture
def archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SqlHook:
    """The connection ``archive``: a SQLite file with an empty ``people`` table."""
    uri = "sqlite://" + str(tmp_path / "archive.db").replace("/", "%2F")
    monkeypatch.setenv("SLUICE_CONN_ARCHIVE", uri)
    hook = SqlHook("archive")
    hook.run(PEOPLE.format("people"))
    return hook


def _source(sql_conn: SqlConn, count: int) -> SqlHook:
    hook = sql_conn.hook()
    hook.run(PEOPLE.format("people"))
    hook.insert_rows("people", [(i, f"p{i}") for i in range(1, count + 1)])
    return hook


def transfer(**kwargs: Any) -> GenericTransfer:
    kwargs.setdefault("task_id", "copy")
    kwargs.setdefault("source_conn_id", "warehouse")
    kwargs.setdefault("destination_conn_id", "archive")
    kwargs.setdefault("destination_table", "people")
    return GenericTransfer(**kwargs)


def test_rows_are_streamed_in_pages_into_another_database(
    sql_conn: SqlConn, archive: SqlHook
) -> None:
    _source(sql_conn, 25)
    pages: list[int] = []

    def shout(rows: list[tuple[Any, ...]], **context: Any) -> list[tuple[Any, ...]]:
        pages.append(len(rows))
        assert context == {"ds": "2024-03-15"}
        return [(i, name.upper()) for i, name in rows]

    task = transfer(
        sql="SELECT id, name FROM people ORDER BY id", page_size=10, rows_processor=shout
    )
    assert task.execute({"ds": "2024-03-15"}) is None
    assert pages == [10, 10, 5]
    assert archive.get_records("SELECT id, name FROM people ORDER BY id") == [
        (i, f"P{i}") for i in range(1, 26)
    ]


def test_preoperator_and_inserts_commit_together(sql_conn: SqlConn, archive: SqlHook) -> None:
    _source(sql_conn, 3)
    archive.insert_rows("people", [(1, "old"), (9, "stale")])
    task = transfer(
        sql=["SELECT id, name FROM people WHERE id < 3", "SELECT * FROM people WHERE id = 3"],
        preoperator="DELETE FROM people WHERE id = 1; DELETE FROM people WHERE id = 9",
    )
    task.execute({})
    assert archive.get_records("SELECT id, name FROM people ORDER BY id") == [
        (1, "p1"),
        (2, "p2"),
        (3, "p3"),
    ]


def test_a_failed_insert_rolls_back_the_preoperator(sql_conn: SqlConn, archive: SqlHook) -> None:
    _source(sql_conn, 5)
    archive.insert_rows("people", [(1, "old"), (4, "keep")])
    # The DELETE frees id 1, but id 4 is still taken: the insert of the 4th row fails.
    task = transfer(
        sql="SELECT id, name FROM people ORDER BY id",
        preoperator=["DELETE FROM people WHERE id = 1"],
        page_size=2,
        insert_args={"commit_every": 1},
    )
    with pytest.raises(SqlOperatorError) as caught:
        task.execute({})
    message = str(caught.value)
    assert message.startswith(
        "task 'copy': the transfer into people failed, nothing was written: IntegrityError: "
    )
    assert "statement: INSERT INTO people VALUES (?, ?)" in message
    assert archive.get_records("SELECT id, name FROM people ORDER BY id") == [
        (1, "old"),
        (4, "keep"),
    ]


def test_within_one_connection_with_insert_args(sql_conn: SqlConn) -> None:
    hook = _source(sql_conn, 4)
    hook.run("CREATE TABLE names (label VARCHAR(20), n INTEGER)")
    hook.insert_rows("names", [("gone", 0)])
    task = transfer(
        destination_conn_id="warehouse",
        destination_table="names",
        sql="SELECT id, name FROM people WHERE id > 1 ORDER BY id",
        preoperator="DELETE FROM names",
        # As a template renders it: text, read as a number.
        insert_args={"target_fields": ["n", "label"], "commit_every": "2", "executemany": True},
    )
    task.execute({})
    assert hook.get_records("SELECT n, label FROM names ORDER BY n") == [
        (2, "p2"),
        (3, "p3"),
        (4, "p4"),
    ]


def test_a_failing_source_query_writes_nothing(sql_conn: SqlConn, archive: SqlHook) -> None:
    _source(sql_conn, 1)
    archive.insert_rows("people", [(1, "old")])
    task = transfer(sql="SELECT id, name FROM nowhere", preoperator="DELETE FROM people")
    with pytest.raises(SqlOperatorError, match="nothing was written") as caught:
        task.execute({})
    assert "statement: SELECT id, name FROM nowhere" in str(caught.value)
    assert archive.get_records("SELECT id, name FROM people") == [(1, "old")]


def test_run_time_errors_name_the_task(
    sql_conn: SqlConn, archive: SqlHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    _source(sql_conn, 1)
    task = transfer(sql="SELECT id, name FROM people", page_size="{{ params.size }}")
    task.page_size = "ten"  # what the template rendered
    with pytest.raises(SqlOperatorError, match="task 'copy': page_size must be an integer"):
        task.execute({})
    monkeypatch.setenv("SLUICE_CONN_API", "http://example.com")
    with pytest.raises(SqlOperatorError, match="task 'copy': connection 'api' is of type 'http'"):
        transfer(sql="SELECT 1", destination_conn_id="api").execute({})
    task = transfer(sql="SELECT id, name FROM people", preoperator="DELETE FROM people; 'open")
    with pytest.raises(SqlOperatorError, match="task 'copy': preoperator: cannot split the SQL"):
        task.execute({})
    task = transfer(sql="SELECT id, name FROM people", rows_processor=lambda rows, **_: None)
    with pytest.raises(SqlOperatorError, match="rows_processor must return a list of rows"):
        task.execute({})
    assert archive.get_records("SELECT id FROM people") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sql": ""}, "task 'copy': sql is empty"),
        ({"destination_table": " "}, "destination_table must be a table name"),
        ({"source_conn_id": 3}, "source_conn_id must be a connection id"),
        ({"preoperator": []}, "preoperator is an empty list"),
        ({"insert_args": {"chunk": 5}}, "insert_args has unknown key\\(s\\) chunk; it takes"),
        ({"insert_args": {"commit_every": 0}}, r"insert_args\['commit_every'\] must be an int"),
        ({"insert_args": {"target_fields": "a,b"}}, "must be a list of column names"),
        ({"page_size": 0}, "page_size must be an integer of at least 1, got 0"),
        ({"rows_processor": 1}, "rows_processor must be callable"),
        ({"source_hook_params": {"x": 1}}, "source_hook_params has unknown key"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_defined(kwargs: dict[str, Any], message: str) -> None:
    kwargs.setdefault("sql", "SELECT 1")
    with pytest.raises(DagDefinitionError, match=message):
        transfer(**kwargs)


def test_missing_arguments_are_named() -> None:
    with pytest.raises(DagDefinitionError, match="'destination_table'"):
        GenericTransfer(task_id="t", sql="SELECT 1", source_conn_id="a", destination_conn_id="b")
