"""SqlHook streams rows, writes them as CSV and loads CSV, on each database."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from tests.integrations.conftest import SqlConn

from sluice.integrations.sql.hook import SqlHookError

DDL = (
    "CREATE TABLE sales (id INTEGER PRIMARY KEY, name VARCHAR(50), amount NUMERIC(10, 2),"
    " sold_at TIMESTAMP NULL, sold_on DATE)"
)


def _numbers(sql_conn: SqlConn, count: int) -> None:
    hook = sql_conn.hook()
    hook.run("CREATE TABLE numbers (n INTEGER PRIMARY KEY, label VARCHAR(20))")
    hook.insert_rows("numbers", [(i, f"n{i}") for i in range(count)], commit_every=7)


def test_stream_rows_yields_batches_of_batch_size(sql_conn: SqlConn) -> None:
    _numbers(sql_conn, 25)
    hook = sql_conn.hook()
    with hook.stream_rows("SELECT n, label FROM numbers ORDER BY n", batch_size=10) as (
        columns,
        batches,
    ):
        sizes = []
        rows = []
        for batch in batches:
            sizes.append(len(batch))
            rows.extend(batch)
    assert columns == ["n", "label"]
    assert sizes == [10, 10, 5]
    assert rows == [(i, f"n{i}") for i in range(25)]


def test_stream_rows_with_parameters_and_no_rows(sql_conn: SqlConn) -> None:
    _numbers(sql_conn, 5)
    hook = sql_conn.hook()
    query = f"SELECT label FROM numbers WHERE n >= {sql_conn.marker} ORDER BY n"
    with hook.stream_rows(query, parameters=[3]) as (columns, batches):
        assert columns == ["label"]
        assert list(batches) == [[("n3",), ("n4",)]]
    with hook.stream_rows(query, parameters=[99]) as (columns, batches):
        assert columns == ["label"]
        assert list(batches) == []


def test_stream_rows_stopped_early_leaves_the_hook_usable(sql_conn: SqlConn) -> None:
    _numbers(sql_conn, 30)
    hook = sql_conn.hook()
    with hook.stream_rows("SELECT n FROM numbers ORDER BY n", batch_size=4) as (_, batches):
        assert next(batches) == [(0,), (1,), (2,), (3,)]
    # The unread rows were dropped with the cursor: the next query runs normally.
    assert hook.get_first("SELECT COUNT(*) FROM numbers") == (30,)


def test_stream_rows_refuses_bad_arguments(sql_conn: SqlConn) -> None:
    _numbers(sql_conn, 1)
    hook = sql_conn.hook()
    with (
        pytest.raises(SqlHookError, match="batch_size must be an integer of at least 1, got 0"),
        hook.stream_rows("SELECT n FROM numbers", batch_size=0),
    ):
        pass
    with pytest.raises(SqlHookError, match="needs one SQL query"), hook.stream_rows("  "):
        pass
    # PostgreSQL refuses to open a server-side cursor on anything but a query.
    refused = "CURSOR FOR DELETE" if sql_conn.backend == "postgresql" else "returns no rows"
    with (
        pytest.raises(Exception, match=refused),
        hook.stream_rows("DELETE FROM numbers"),
    ):
        pass
    # The DELETE (if it ran) ran in the read transaction, which the error rolled back.
    assert hook.get_first("SELECT COUNT(*) FROM numbers") == (1,)


def _sales(sql_conn: SqlConn) -> None:
    hook = sql_conn.hook()
    hook.run(DDL)
    hook.run(
        [
            "INSERT INTO sales VALUES (1, 'plain', 12.50, '2024-03-15 10:30:00', '2024-03-15')",
            "INSERT INTO sales VALUES (2, 'a, \"quoted\"\nname', NULL, NULL, '2024-03-16')",
            "INSERT INTO sales VALUES (3, '', 0.05, '2024-03-17 00:00:01', '2024-03-17')",
        ]
    )


def test_export_csv_formats_each_type(sql_conn: SqlConn) -> None:
    _sales(sql_conn)
    out = io.StringIO()
    count = sql_conn.hook().export_csv("SELECT * FROM sales ORDER BY id", out, batch_size=2)
    assert count == 3
    if sql_conn.backend == "sqlite":
        # SQLite has no date types and stores NUMERIC 12.50 as the real 12.5.
        amounts, stamps = ("12.5", "0.05"), ("2024-03-15 10:30:00", "2024-03-17 00:00:01")
    else:
        amounts, stamps = ("12.50", "0.05"), ("2024-03-15T10:30:00", "2024-03-17T00:00:01")
    assert out.getvalue() == (
        "id,name,amount,sold_at,sold_on\n"
        f"1,plain,{amounts[0]},{stamps[0]},2024-03-15\n"
        '2,"a, ""quoted""\nname",,,2024-03-16\n'
        f"3,,{amounts[1]},{stamps[1]},2024-03-17\n"
    )


def test_export_csv_without_header_and_with_delimiter(sql_conn: SqlConn) -> None:
    _numbers(sql_conn, 3)
    out = io.StringIO()
    query = f"SELECT n, label FROM numbers WHERE n > {sql_conn.marker} ORDER BY n"
    count = sql_conn.hook().export_csv(query, out, parameters=(0,), header=False, delimiter=";")
    assert count == 2
    assert out.getvalue() == "1;n1\n2;n2\n"
    with pytest.raises(SqlHookError, match="export_csv: bad delimiter ';;'"):
        sql_conn.hook().export_csv(query, io.StringIO(), parameters=(0,), delimiter=";;")


def test_csv_round_trip_keeps_every_value(sql_conn: SqlConn) -> None:
    _sales(sql_conn)
    hook = sql_conn.hook()
    out = io.StringIO()
    hook.export_csv("SELECT * FROM sales ORDER BY id", out)
    hook.run(DDL.replace("sales", "sales_copy"))
    loaded = hook.load_csv("sales_copy", io.StringIO(out.getvalue()), commit_every=2)
    assert loaded == 3
    query = "SELECT * FROM {} ORDER BY id"
    copied = hook.get_records(query.format("sales_copy"))
    original = hook.get_records(query.format("sales"))
    # An empty string and None are both an empty field: the empty name comes back NULL.
    assert copied[2][1] is None
    assert [r[:1] + r[2:] for r in copied] == [r[:1] + r[2:] for r in original]
    assert [r[1] for r in copied[:2]] == [r[1] for r in original[:2]]


def test_load_csv_with_columns_null_marker_and_no_header(sql_conn: SqlConn) -> None:
    hook = sql_conn.hook()
    hook.run("CREATE TABLE people (id INTEGER, name VARCHAR(20), city VARCHAR(20))")
    source = io.StringIO("Ada|1|\\N\n\nBob|2|\n")
    count = hook.load_csv(
        "people", source, header=False, columns=["name", "id", "city"], delimiter="|", null="\\N"
    )
    assert count == 2
    assert hook.get_records("SELECT id, name, city FROM people ORDER BY id") == [
        (1, "Ada", None),
        (2, "Bob", ""),
    ]
    # Without a header or columns, the fields go to the table's columns in order.
    assert hook.load_csv("people", io.StringIO("3,Cy,Oslo\n"), header=False) == 1
    assert hook.get_first("SELECT name, city FROM people WHERE id = 3") == ("Cy", "Oslo")
    # A header is skipped when columns are given, and columns choose the targets.
    source = io.StringIO("whatever,names\nDee,4\n")
    assert hook.load_csv("people", source, columns=["name", "id"]) == 1
    assert hook.get_first("SELECT name, city FROM people WHERE id = 4") == ("Dee", None)


def test_load_csv_bad_row_names_its_line_and_inserts_nothing(
    sql_conn: SqlConn, tmp_path: Path
) -> None:
    hook = sql_conn.hook()
    hook.run("CREATE TABLE people (id INTEGER, name VARCHAR(20))")
    hook.insert_rows("people", [(1, "Ada")])
    path = tmp_path / "people.csv"
    path.write_text('id,name\n2,Bob\n3,"Cy\nCyrus"\n4,Dee,extra\n5,Eve\n')
    with path.open(newline="") as source, pytest.raises(SqlHookError) as caught:
        # commit_every=1: the rows before the bad one were sent, and are rolled back.
        hook.load_csv("people", source, commit_every=1)
    assert str(caught.value) == (
        f"CSV '{path}', line 5: 3 field(s), expected 2; nothing was inserted into people"
    )
    assert hook.get_records("SELECT id, name FROM people") == [(1, "Ada")]


def test_load_csv_refuses_bad_input(sql_conn: SqlConn) -> None:
    hook = sql_conn.hook()
    hook.run("CREATE TABLE people (id INTEGER NOT NULL, name VARCHAR(20))")
    with pytest.raises(SqlHookError, match="the CSV is empty: header=True expects a header"):
        hook.load_csv("people", io.StringIO(""))
    with pytest.raises(SqlHookError, match="the CSV, line 2: bad CSV: "):
        hook.load_csv("people", io.StringIO('id,name\n1,"Ada"x\n'))
    with pytest.raises(SqlHookError, match="columns must be a non-empty list of names"):
        hook.load_csv("people", io.StringIO("1,Ada\n"), columns=[])
    with pytest.raises(SqlHookError, match="load_csv: bad delimiter ''"):
        hook.load_csv("people", io.StringIO("1,Ada\n"), delimiter="")
    # A value the column cannot take is the database's error, and nothing is inserted.
    with pytest.raises(Exception, match=r"(?i)null") as caught:
        hook.load_csv("people", io.StringIO("id,name\n1,Ada\n,Bob\n"))
    assert "IntegrityError" in type(caught.value).__name__
    assert hook.get_records("SELECT id, name FROM people") == []
