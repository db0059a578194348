"""SQL -> object -> SQL, as CSV and Parquet, on SQLite, PostgreSQL and MySQL, through
moto's S3 server and a local folder."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.integrations.conftest import SqlConn
from tests.integrations.storage.conftest import Storage

from sluice import DAG
from sluice.core.errors import DagDefinitionError
from sluice.core.states import DagRunState
from sluice.core.xcom_codec import decode_xcom
from sluice.integrations.sql.hook import SqlHook
from sluice.integrations.storage import (
    ObjectExists,
    ObjectNotFound,
    ObjectStorageToSqlOperator,
    SqlToObjectStorageOperator,
    TransferError,
)
from sluice.integrations.storage.parquet import ParquetError
from sluice.runner.local_run import LocalDagRun

TABLE = (
    "CREATE TABLE {} (id INTEGER PRIMARY KEY, name VARCHAR(40), amount NUMERIC(10, 2),"
    " day DATE, note VARCHAR(40))"
)
ROWS = [
    (1, "plain", "12.50", "2024-03-15", "first"),
    (2, 'comma, and "quotes"', "7.25", "2024-03-16", None),
    (3, "ünïcødé ✓", "0.75", "2024-03-17", "line\nbreak"),
    (4, "four", None, None, "last"),
]
SELECT = "SELECT id, name, amount, day, note FROM {} ORDER BY id"


def _tables(sql_conn: SqlConn, *names: str) -> SqlHook:
    hook = sql_conn.hook()
    for name in names:
        hook.run(TABLE.format(name))
    hook.insert_rows("sales", ROWS)
    return hook


def export(**kwargs: Any) -> SqlToObjectStorageOperator:
    kwargs.setdefault("task_id", "export")
    kwargs.setdefault("sql_conn_id", "warehouse")
    kwargs.setdefault("storage_conn_id", "lake")
    return SqlToObjectStorageOperator(**kwargs)


def load(**kwargs: Any) -> ObjectStorageToSqlOperator:
    kwargs.setdefault("task_id", "load")
    kwargs.setdefault("sql_conn_id", "warehouse")
    kwargs.setdefault("storage_conn_id", "lake")
    return ObjectStorageToSqlOperator(**kwargs)


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_round_trip(sql_conn: SqlConn, storage: Storage, file_format: str) -> None:
    hook = _tables(sql_conn, "sales", "copy")
    key = f"exports/sales.{file_format}"
    result = export(
        query=SELECT.format("sales"),
        bucket=storage.bucket,
        key=key,
        file_format=file_format,
        batch_size=3,
    ).execute({})
    assert result == {"bucket": storage.bucket, "key": key, "rows": 4}
    stored = storage.hook().read_bytes(storage.bucket, key)
    if file_format == "csv":
        assert stored.startswith(b"id,name,amount,day,note\n1,plain,12.5")
    else:
        assert stored[:4] == stored[-4:] == b"PAR1"
    count = load(
        bucket=storage.bucket, key=key, table="copy", file_format=file_format, commit_every=2
    ).execute({})
    assert count == 4
    assert hook.get_records(SELECT.format("copy")) == hook.get_records(SELECT.format("sales"))


def test_export_refuses_to_replace_before_running_the_query(
    sql_conn: SqlConn, storage: Storage
) -> None:
    storage.hook().load_string("keep me", storage.bucket, "out.csv")
    task = export(query="SELECT * FROM no_such_table", bucket=storage.bucket, key="out.csv")
    with pytest.raises(ObjectExists, match=r"key 'out\.csv' already exists.*replace=True"):
        task.execute({})
    assert storage.hook().read_string(storage.bucket, "out.csv") == "keep me"


def test_export_with_replace_parameters_and_a_url(sql_conn: SqlConn, storage: Storage) -> None:
    _tables(sql_conn, "sales")
    storage.hook().load_string("old", storage.bucket, "out.tsv")
    task = export(
        query=f"SELECT id, name FROM sales WHERE id > {sql_conn.marker} ORDER BY id",
        parameters=[2],
        key=f"s3://{storage.bucket}/out.tsv",
        replace=True,
        header=False,
        delimiter="\t",
    )
    assert task.execute({})["rows"] == 2
    assert storage.hook().read_string(storage.bucket, "out.tsv") == "3\tünïcødé ✓\n4\tfour\n"


def test_a_failing_query_is_a_transfer_error(sql_conn: SqlConn, storage: Storage) -> None:
    task = export(query="SELECT * FROM no_such_table", bucket=storage.bucket, key="x.csv")
    with pytest.raises(TransferError, match="task 'export': the query failed: "):
        task.execute({})
    assert not storage.hook().check_for_key(storage.bucket, "x.csv")


def test_csv_without_header_into_named_columns(sql_conn: SqlConn, storage: Storage) -> None:
    hook = sql_conn.hook()
    hook.run("CREATE TABLE people (id INTEGER, name VARCHAR(20), city VARCHAR(20))")
    storage.hook().load_string("1;ann\n2;NULL\n", storage.bucket, "people.csv")
    count = load(
        bucket=storage.bucket,
        key="people.csv",
        table="people",
        header=False,
        columns=["id", "name"],
        delimiter=";",
        null="NULL",
    ).execute({})
    assert count == 2
    assert hook.get_records("SELECT id, name, city FROM people ORDER BY id") == [
        (1, "ann", None),
        (2, None, None),
    ]


def test_parquet_columns_map_to_other_names(sql_conn: SqlConn, storage: Storage) -> None:
    hook = _tables(sql_conn, "sales")
    hook.run("CREATE TABLE renamed (ident INTEGER, label VARCHAR(40))")
    export(
        query="SELECT id, name FROM sales ORDER BY id",
        bucket=storage.bucket,
        key="two.parquet",
        file_format="parquet",
    ).execute({})
    task = load(
        bucket=storage.bucket,
        key="two.parquet",
        table="renamed",
        file_format="parquet",
        columns=["ident", "label"],
    )
    assert task.execute({}) == 4
    assert hook.get_records("SELECT ident, label FROM renamed ORDER BY ident")[0] == (1, "plain")
    wrong = load(
        bucket=storage.bucket,
        key="two.parquet",
        table="renamed",
        file_format="PARQUET",
        columns=["ident"],
    )
    with pytest.raises(
        TransferError, match=r"columns names 1 column\(s\) but the Parquet file has 2"
    ):
        wrong.execute({})


def test_parquet_preoperator_rolls_back_with_a_failed_load(
    sql_conn: SqlConn, storage: Storage
) -> None:
    hook = _tables(sql_conn, "sales", "target")
    hook.insert_rows("target", [(1, "old one", None, None, None), (9, "kept", None, None, None)])
    export(
        query=SELECT.format("sales"), bucket=storage.bucket, key="s.parquet", file_format="parquet"
    ).execute({})
    # The preoperator makes room for id 1; 9 stays.
    ok = load(
        bucket=storage.bucket,
        key="s.parquet",
        table="target",
        file_format="parquet",
        preoperator="DELETE FROM target WHERE id = 1",
    )
    assert ok.execute({}) == 4
    assert [r[0] for r in hook.get_records("SELECT id FROM target ORDER BY id")] == [1, 2, 3, 4, 9]
    # Now the rows exist: the preoperator deletes 9, then the load hits duplicate ids.
    failing = load(
        bucket=storage.bucket,
        key="s.parquet",
        table="target",
        file_format="parquet",
        preoperator="DELETE FROM target WHERE id = 9",
    )
    with pytest.raises(TransferError, match="into target failed, and its transaction was rolled"):
        failing.execute({})
    assert [r[0] for r in hook.get_records("SELECT id FROM target ORDER BY id")] == [1, 2, 3, 4, 9]


def test_csv_preoperator_rolls_back_with_a_failed_load(sql_conn: SqlConn, storage: Storage) -> None:
    hook = _tables(sql_conn, "sales", "target")
    hook.insert_rows("target", [(1, "old one", None, None, None), (9, "other", None, None, None)])
    export(query=SELECT.format("sales"), bucket=storage.bucket, key="s.csv").execute({})
    task = load(
        bucket=storage.bucket,
        key="s.csv",
        table="target",
        preoperator="DELETE FROM target WHERE id < 5; DELETE FROM target WHERE id = 99",
    )
    assert task.execute({}) == 4
    assert hook.get_records(SELECT.format("target"))[:4] == hook.get_records(SELECT.format("sales"))
    # A load that fails is rolled back with the preoperator: the delete of id 9 is undone.
    failing = load(
        bucket=storage.bucket,
        key="s.csv",
        table="target",
        preoperator="DELETE FROM target WHERE id = 9",
    )
    with pytest.raises(TransferError):
        failing.execute({})
    assert [r[0] for r in hook.get_records("SELECT id FROM target ORDER BY id")] == [1, 2, 3, 4, 9]


def test_empty_results_make_empty_objects_that_load_nothing(
    sql_conn: SqlConn, storage: Storage
) -> None:
    hook = _tables(sql_conn, "sales", "copy")
    for file_format in ("csv", "parquet"):
        key = f"empty.{file_format}"
        result = export(
            query="SELECT id, name FROM sales WHERE id < 0",
            bucket=storage.bucket,
            key=key,
            file_format=file_format,
        ).execute({})
        assert result["rows"] == 0
        task = load(bucket=storage.bucket, key=key, table="copy", file_format=file_format)
        assert task.execute({}) == 0
    assert storage.hook().read_string(storage.bucket, "empty.csv") == "id,name\n"
    assert hook.get_records("SELECT * FROM copy") == []


def test_loading_a_missing_object(sql_conn: SqlConn, storage: Storage) -> None:
    sql_conn.hook().run(TABLE.format("copy"))
    task = load(bucket=storage.bucket, key="never/written.csv", table="copy")
    with pytest.raises(ObjectNotFound, match=r"key 'never/written\.csv' does not exist"):
        task.execute({})


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SqlHook:
    """The SQLite connection ``scratch``, whose columns take any type."""
    monkeypatch.setenv(
        "SLUICE_CONN_SCRATCH", "sqlite://" + str(tmp_path / "s.db").replace("/", "%2F")
    )
    return SqlHook("scratch")


def test_a_column_whose_type_changes_names_it(scratch: SqlHook, storage: Storage) -> None:
    scratch.run("CREATE TABLE loose (id INTEGER, v)")
    scratch.insert_rows("loose", [(1, 10), (2, 20), (3, "thirty"), (4, 40)])
    task = export(
        query="SELECT id, v FROM loose ORDER BY id",
        sql_conn_id="scratch",
        bucket=storage.bucket,
        key="loose.parquet",
        file_format="parquet",
        batch_size=2,
    )
    with pytest.raises(ParquetError, match=r"column 'v', in rows 3 to 4: a value does not fit"):
        task.execute({})
    assert not storage.hook().check_for_key(storage.bucket, "loose.parquet")


def test_columns_null_at_first_take_their_type_from_later_rows(
    scratch: SqlHook, storage: Storage
) -> None:
    scratch.run("CREATE TABLE late (id INTEGER, v REAL)")
    scratch.insert_rows("late", [(1, None), (2, None), (3, 1.5)])
    scratch.run("CREATE TABLE back (id INTEGER, v REAL)")
    export(
        query="SELECT id, v FROM late ORDER BY id",
        sql_conn_id="scratch",
        bucket=storage.bucket,
        key="late.parquet",
        file_format="parquet",
        batch_size=1,
    ).execute({})
    load(
        bucket=storage.bucket,
        key="late.parquet",
        table="back",
        sql_conn_id="scratch",
        file_format="parquet",
    ).execute({})
    assert scratch.get_records("SELECT id, v FROM back ORDER BY id") == [
        (1, None),
        (2, None),
        (3, 1.5),
    ]


def test_pyarrow_missing_names_the_extra(
    scratch: SqlHook, storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch.run("CREATE TABLE t (id INTEGER)")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # what an uninstalled package looks like
    task = export(
        query="SELECT id FROM t",
        sql_conn_id="scratch",
        bucket=storage.bucket,
        key="t.parquet",
        file_format="parquet",
    )
    with pytest.raises(ParquetError, match=r"needs pyarrow.*pip install 'sluice\[parquet\]'"):
        task.execute({})


def test_the_query_can_be_a_sql_file(sql_conn: SqlConn, storage: Storage, tmp_path: Path) -> None:
    _tables(sql_conn, "sales")
    (tmp_path / "sales_of_day.sql").write_text("SELECT id, day FROM sales WHERE day = '{{ ds }}'")
    with DAG("exporting", template_searchpath=str(tmp_path)) as dag:
        export(query="sales_of_day.sql", bucket=storage.bucket, key="by-day/{{ ds }}.csv")
    run = LocalDagRun(dag, logical_date=datetime(2024, 3, 15, tzinfo=UTC))
    assert run.execute().state is DagRunState.SUCCESS
    raw = run.xcom.get("export", -1, "return_value")
    assert raw is not None
    assert decode_xcom(raw)["rows"] == 1
    assert storage.hook().read_string(storage.bucket, "by-day/2024-03-15.csv") == (
        "id,day\n1,2024-03-15\n"
    )


@pytest.mark.parametrize(
    ("kind", "arguments", "message"),
    [
        ("export", {"file_format": "json"}, "file_format must be one of csv, parquet, got 'json'"),
        ("export", {"delimiter": ";;"}, "delimiter must be one character"),
        ("export", {"batch_size": 0}, "batch_size must be an integer of at least 1"),
        ("export", {"query": ""}, "query is empty"),
        ("export", {"parameters": "x"}, "parameters must be a dict"),
        ("export", {"sql_conn_id": ""}, "sql_conn_id must be a connection id"),
        ("export", {"bucket": "b", "key": "s3://b/k"}, "is a URL while bucket 'b'"),
        ("load", {"columns": []}, "columns must be a non-empty list of column names"),
        ("load", {"columns": "id,name"}, "columns must be a non-empty list of column names"),
        ("load", {"null": None}, "null must be a string"),
        ("load", {"commit_every": -1}, "commit_every must be an integer of at least 1"),
        ("load", {"preoperator": ""}, "preoperator is empty"),
        ("load", {"storage_conn_id": 3}, "storage_conn_id must be a connection id"),
    ],
)
def test_bad_arguments(kind: str, arguments: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"key": "k", "bucket": "b"}
    if kind == "export":
        base["query"] = "SELECT 1"
        with pytest.raises(DagDefinitionError, match=message):
            export(**{**base, **arguments})
    else:
        base["table"] = "t"
        with pytest.raises(DagDefinitionError, match=message):
            load(**{**base, **arguments})
