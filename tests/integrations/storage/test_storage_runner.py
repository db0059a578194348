"""Storage tasks run by the real task runner read their connections from the metadata
database (secrets encrypted there) and pass their results through XCom."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from tests.integrations.storage.conftest import ACCESS_KEY, SECRET_KEY, new_bucket_name
from tests.runner.conftest import Stored

from sluice.core.messages import RunnerExit
from sluice.core.states import TaskInstanceState
from sluice.core.xcom_codec import decode_xcom
from sluice.integrations.sql.hook import SqlHook
from sluice.store import connections
from sluice.store.tables import XCom

SOURCE = """
from sluice.integrations.storage import (
    LocalFilesystemToObjectStorageOperator,
    ObjectStorageCreateBucketOperator,
    ObjectStorageKeySensor,
    ObjectStorageListOperator,
    ObjectStorageToSqlOperator,
    SqlToObjectStorageOperator,
)

BUCKET = "{bucket}"

with DAG("lake", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    create = ObjectStorageCreateBucketOperator(
        task_id="create", bucket_name=BUCKET, conn_id="s3_meta"
    )
    export = SqlToObjectStorageOperator(
        task_id="export",
        query="SELECT id, name FROM people ORDER BY id",
        sql_conn_id="dwh",
        bucket=BUCKET,
        key="people/{{{{ ds }}}}.parquet",
        file_format="parquet",
        storage_conn_id="s3_meta",
    )
    wait = ObjectStorageKeySensor(
        task_id="wait",
        bucket_key="s3://" + BUCKET + "/people/*.parquet",
        wildcard_match=True,
        conn_id="s3_meta",
        poke_interval=0,
        timeout=30,
    )
    load = ObjectStorageToSqlOperator(
        task_id="load",
        bucket=BUCKET,
        key="people/{{{{ ds }}}}.parquet",
        table="people_copy",
        sql_conn_id="dwh",
        file_format="parquet",
        preoperator="DELETE FROM people_copy WHERE id > 0",
        storage_conn_id="s3_meta",
    )
    listing = ObjectStorageListOperator(task_id="list", bucket=BUCKET, conn_id="s3_meta")
    archive = LocalFilesystemToObjectStorageOperator(
        task_id="archive",
        filename="{local}",
        dest_key="{{{{ ds_nodash }}}}/note.txt",
        dest_bucket="notes",
        conn_id="fs_meta",
    )
    create >> export >> wait >> load >> listing >> archive
"""


def test_storage_tasks_run_from_stored_connections(
    stored: Stored, moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "dwh.db"
    dwh_uri = "sqlite://" + str(data).replace("/", "%2F")
    lake = tmp_path / "lake"
    (lake / "notes").mkdir(parents=True)
    local = tmp_path / "note.txt"
    local.write_text("archived")
    extra = f'{{"endpoint_url": "{moto_endpoint}", "region_name": "us-east-1"}}'
    with stored.store.transaction() as session:
        connections.create_connection(
            session,
            "s3_meta",
            {"conn_type": "aws", "login": ACCESS_KEY, "extra": extra},
            SECRET_KEY,
        )
        connections.create_connection(
            session, "fs_meta", {"conn_type": "fs", "extra": f'{{"path": "{lake}"}}'}
        )
        connections.create_connection(session, "dwh", {"conn_type": "sqlite", "host": str(data)})
    # The test itself reads the data database through a connection of the environment.
    monkeypatch.setenv("SLUICE_CONN_DWH_TEST", dwh_uri)
    hook = SqlHook("dwh_test")
    hook.run("CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(20))")
    hook.run("CREATE TABLE people_copy (id INTEGER PRIMARY KEY, name VARCHAR(20))")
    hook.insert_rows("people", [(1, "Ada"), (2, "Bob"), (3, "Cy")])
    hook.insert_rows("people_copy", [(7, "stale")])

    bucket = new_bucket_name()
    stored.write("lake_dag.py", SOURCE.format(bucket=bucket, local=local))
    run_id = stored.trigger("lake")
    for task_id in ("create", "export", "wait", "load", "list", "archive"):
        assert stored.run("lake", run_id, task_id) == RunnerExit.OUTCOME_WRITTEN
        ti = stored.ti("lake", run_id, task_id)
        assert ti.state == TaskInstanceState.SUCCESS, stored.tries("lake", task_id)[-1].error

    with stored.store.transaction() as session:
        rows = session.execute(select(XCom.task_id, XCom.value).where(XCom.run_id == run_id))
        xcoms = {task_id: decode_xcom(value) for task_id, value in rows}
    assert xcoms["export"] == {"bucket": bucket, "key": "people/2024-03-15.parquet", "rows": 3}
    assert xcoms["load"] == 3
    assert xcoms["list"] == ["people/2024-03-15.parquet"]
    assert xcoms["archive"] == "20240315/note.txt"
    assert hook.get_records("SELECT id, name FROM people_copy ORDER BY id") == [
        (1, "Ada"),
        (2, "Bob"),
        (3, "Cy"),
    ]
    assert (lake / "notes" / "20240315" / "note.txt").read_text() == "archived"
