"""The storage operators in a DAG run (templates rendered, XCom passed), on both backends,
and their argument checks at DAG definition time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.integrations.storage.conftest import Storage, new_bucket_name

from sluice import DAG
from sluice.core.errors import DagDefinitionError
from sluice.core.states import DagRunState, TaskInstanceState
from sluice.core.xcom_codec import decode_xcom
from sluice.integrations.storage import (
    LocalFilesystemToObjectStorageOperator,
    ObjectStorageCopyObjectOperator,
    ObjectStorageCreateBucketOperator,
    ObjectStorageDeleteObjectsOperator,
    ObjectStorageListOperator,
    ObjectStorageToLocalFilesystemOperator,
)
from sluice.runner.local_run import LocalDagRun

MakeRun = Callable[..., LocalDagRun]


def _xcom(run: LocalDagRun, task_id: str) -> Any:
    raw = run.xcom.get(task_id, -1, "return_value")
    return None if raw is None else decode_xcom(raw)


def _states(run: LocalDagRun) -> dict[str, Any]:
    return {r.task_id: r.state for rs in run.instances.values() for r in rs}


def test_a_pipeline_of_storage_operators(
    storage: Storage, tmp_path: Path, make_run: MakeRun
) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "sales_20240315.csv").write_text("id,amount\n1,10\n")
    bucket = new_bucket_name()
    with DAG("storage_pipeline", params={"bucket": bucket}) as dag:
        create = ObjectStorageCreateBucketOperator(
            task_id="create", bucket_name="{{ params.bucket }}", conn_id="lake"
        )
        upload = LocalFilesystemToObjectStorageOperator(
            task_id="upload",
            filename=str(incoming) + "/sales_{{ ds_nodash }}.csv",
            dest_key="raw/{{ ds }}/sales.csv",
            dest_bucket="{{ params.bucket }}",
            conn_id="lake",
        )
        copy = ObjectStorageCopyObjectOperator(
            task_id="copy",
            source_bucket_key="s3://{{ params.bucket }}/raw/{{ ds }}/sales.csv",
            dest_bucket_key="curated/{{ ds }}/sales.csv",
            dest_bucket_name="{{ params.bucket }}",
            conn_id="lake",
        )
        listing = ObjectStorageListOperator(
            task_id="list", bucket="{{ params.bucket }}", prefix="curated/", conn_id="lake"
        )
        download = ObjectStorageToLocalFilesystemOperator(
            task_id="download",
            bucket="{{ params.bucket }}",
            key="curated/{{ ds }}/sales.csv",
            filename=str(tmp_path) + "/out/{{ ds }}.csv",
            conn_id="lake",
        )
        delete = ObjectStorageDeleteObjectsOperator(
            task_id="delete", bucket="{{ params.bucket }}", keys=listing.output, conn_id="lake"
        )
        purge = ObjectStorageDeleteObjectsOperator(
            task_id="purge", bucket="{{ params.bucket }}", prefix="raw/", conn_id="lake"
        )
        create >> upload >> copy >> listing >> download >> delete >> purge
    run = make_run(dag)
    assert run.execute().state is DagRunState.SUCCESS, _states(run)
    assert _xcom(run, "upload") == "raw/2024-03-15/sales.csv"
    assert _xcom(run, "list") == ["curated/2024-03-15/sales.csv"]
    assert _xcom(run, "download") == str(tmp_path / "out" / "2024-03-15.csv")
    assert (tmp_path / "out" / "2024-03-15.csv").read_text() == "id,amount\n1,10\n"
    assert _xcom(run, "delete") == ["curated/2024-03-15/sales.csv"]
    assert _xcom(run, "purge") == ["raw/2024-03-15/sales.csv"]
    assert storage.hook().list_keys(bucket) == []


def test_create_bucket_leaves_an_existing_one(storage: Storage) -> None:
    hook = storage.hook()
    hook.load_string("kept", storage.bucket, "k")
    task = ObjectStorageCreateBucketOperator(
        task_id="create", bucket_name=storage.bucket, conn_id="lake"
    )
    assert task.execute({}) is None
    assert hook.read_string(storage.bucket, "k") == "kept"


def test_upload_does_not_replace_unless_told(storage: Storage, tmp_path: Path) -> None:
    hook = storage.hook()
    hook.load_string("old", storage.bucket, "f.txt")
    local = tmp_path / "f.txt"
    local.write_text("new")
    common = {"filename": str(local), "dest_key": "f.txt", "dest_bucket": storage.bucket}
    task = LocalFilesystemToObjectStorageOperator(task_id="u", conn_id="lake", **common)
    with pytest.raises(FileExistsError, match="already exists"):
        task.execute({})
    assert hook.read_string(storage.bucket, "f.txt") == "old"
    task = LocalFilesystemToObjectStorageOperator(
        task_id="u2", conn_id="lake", replace=True, **common
    )
    task.execute({})
    assert hook.read_string(storage.bucket, "f.txt") == "new"


def test_list_with_a_delimiter(storage: Storage) -> None:
    hook = storage.hook()
    for key in ("a/1.csv", "a/2.csv", "a/deeper/3.csv"):
        hook.load_string("x", storage.bucket, key)
    task = ObjectStorageListOperator(
        task_id="l", bucket=storage.bucket, prefix="a/", delimiter="/", conn_id="lake"
    )
    assert task.execute({}) == ["a/1.csv", "a/2.csv"]


def test_a_prefix_that_renders_empty_deletes_nothing(storage: Storage, make_run: MakeRun) -> None:
    hook = storage.hook()
    hook.load_string("x", storage.bucket, "precious.txt")
    with DAG("purge_all") as dag:
        ObjectStorageDeleteObjectsOperator(
            task_id="purge",
            bucket=storage.bucket,
            prefix="{{ params.get('p', '') }}",
            conn_id="lake",
        )
    run = make_run(dag)
    assert run.execute().state is DagRunState.FAILED
    (record,) = run.instances["purge"]
    assert record.state is TaskInstanceState.FAILED
    assert record.error is not None
    assert "would delete every object of the bucket" in record.error
    assert hook.list_keys(storage.bucket) == ["precious.txt"]


def test_a_missing_source_fails_the_copy_with_its_name(storage: Storage) -> None:
    task = ObjectStorageCopyObjectOperator(
        task_id="c",
        source_bucket_key="nope.txt",
        source_bucket_name=storage.bucket,
        dest_bucket_key=f"s3://{storage.bucket}/copy.txt",
        conn_id="lake",
    )
    with pytest.raises(FileNotFoundError, match=r"key 'nope\.txt' does not exist"):
        task.execute({})


BAD_DEFINITIONS: list[tuple[type[Any], dict[str, Any], str]] = [
    (ObjectStorageListOperator, {}, r"missing the required argument\(s\) 'bucket'"),
    (
        ObjectStorageDeleteObjectsOperator,
        {"bucket": "b"},
        "give exactly one of keys and prefix",
    ),
    (
        ObjectStorageDeleteObjectsOperator,
        {"bucket": "b", "keys": ["a"], "prefix": "x/"},
        r"give exactly one of keys and prefix \(both were given\)",
    ),
    (
        ObjectStorageDeleteObjectsOperator,
        {"bucket": "b", "keys": [1, 2]},
        "keys must be a key or a list of keys",
    ),
    (
        LocalFilesystemToObjectStorageOperator,
        {"filename": "/tmp/f", "dest_key": "s3://b/k", "dest_bucket": "b"},
        "dest_key 's3://b/k' is a URL while dest_bucket 'b' is given too",
    ),
    (
        LocalFilesystemToObjectStorageOperator,
        {"filename": "/tmp/f", "dest_key": "gs://b/k"},
        "scheme 'gs://'",
    ),
    (
        LocalFilesystemToObjectStorageOperator,
        {"filename": "", "dest_key": "k"},
        "filename must be a non-empty string",
    ),
    (
        LocalFilesystemToObjectStorageOperator,
        {"filename": "/tmp/f", "dest_key": "k", "replace": "yes"},
        "replace must be True or False",
    ),
    (
        ObjectStorageToLocalFilesystemOperator,
        {"key": "k", "filename": "/tmp/f", "conn_id": ""},
        "conn_id must be a connection id",
    ),
    (
        ObjectStorageCopyObjectOperator,
        {"source_bucket_key": "s3://a/k", "source_bucket_name": "a", "dest_bucket_key": "k"},
        "source_bucket_key 's3://a/k' is a URL while source_bucket_name 'a'",
    ),
    (ObjectStorageCreateBucketOperator, {"bucket_name": 5}, "bucket_name must be a non-empty"),
]


@pytest.mark.parametrize(("operator", "arguments", "message"), BAD_DEFINITIONS)
def test_bad_arguments_fail_at_dag_definition(
    operator: type[Any], arguments: dict[str, Any], message: str
) -> None:
    with DAG("bad"), pytest.raises(DagDefinitionError, match=message) as caught:
        operator(task_id="t", **arguments)
    assert "task 't' of DAG 'bad'" in str(caught.value) or "(task_id: t)" in str(caught.value)


def test_templates_are_checked_once_rendered_not_before() -> None:
    with DAG("later"):
        task = LocalFilesystemToObjectStorageOperator(
            task_id="t", filename="{{ params.f }}", dest_key="{{ params.k }}", dest_bucket="b"
        )
    assert task.dest_key == "{{ params.k }}"
