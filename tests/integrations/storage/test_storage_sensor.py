"""ObjectStorageKeySensor: every key must exist, by name or by pattern, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from tests.integrations.storage.conftest import Storage

from sluice import DAG
from sluice.core.errors import DagDefinitionError
from sluice.core.states import DagRunState
from sluice.integrations.storage import ObjectStorageKeySensor
from sluice.runner.local_run import LocalDagRun


def sensor(**kwargs: Any) -> ObjectStorageKeySensor:
    kwargs.setdefault("task_id", "wait")
    kwargs.setdefault("conn_id", "lake")
    return ObjectStorageKeySensor(**kwargs)


def test_poke_is_false_until_the_key_exists(storage: Storage) -> None:
    task = sensor(bucket_key="in/data.csv", bucket_name=storage.bucket)
    assert task.poke({}) is False
    storage.hook().load_string("x", storage.bucket, "in/data.csv")
    assert task.poke({}) is True


def test_every_key_of_a_list_must_exist(storage: Storage) -> None:
    hook = storage.hook()
    task = sensor(
        bucket_key=[f"s3://{storage.bucket}/a.csv", f"s3://{storage.bucket}/b.csv"],
    )
    hook.load_string("x", storage.bucket, "a.csv")
    assert task.poke({}) is False
    hook.load_string("x", storage.bucket, "b.csv")
    assert task.poke({}) is True


def test_wildcard_match(storage: Storage) -> None:
    hook = storage.hook()
    task = sensor(
        bucket_key="exports/2024-*/part-*.parquet", bucket_name=storage.bucket, wildcard_match=True
    )
    hook.load_string("x", storage.bucket, "exports/2024-03/part-0.csv")
    assert task.poke({}) is False
    hook.load_string("x", storage.bucket, "exports/2024-03/part-0.parquet")
    assert task.poke({}) is True
    # Without wildcard_match the pattern is a key like any other.
    literal = sensor(bucket_key="exports/2024-*/part-*.parquet", bucket_name=storage.bucket)
    assert literal.poke({}) is False


def test_a_missing_bucket_is_not_there_yet(storage: Storage) -> None:
    assert sensor(bucket_key="k", bucket_name="bkt-not-made-yet").poke({}) is False
    task = sensor(bucket_key="*", bucket_name="bkt-not-made-yet", wildcard_match=True)
    assert task.poke({}) is False


def test_check_fn_sees_what_was_found(storage: Storage) -> None:
    hook = storage.hook()
    hook.load_string("", storage.bucket, "ready/empty.csv")
    hook.load_string("1,2,3", storage.bucket, "ready/full.csv")
    seen: list[list[dict[str, Any]]] = []

    def all_non_empty(files: list[dict[str, Any]]) -> bool:
        seen.append(files)
        return all(f["Size"] > 0 for f in files)

    task = sensor(
        bucket_key="ready/*.csv",
        bucket_name=storage.bucket,
        wildcard_match=True,
        check_fn=all_non_empty,
    )
    assert task.poke({}) is False
    assert [(f["Key"], f["Size"]) for f in seen[0]] == [
        ("ready/empty.csv", 0),
        ("ready/full.csv", 5),
    ]
    hook.load_string("4", storage.bucket, "ready/empty.csv")
    assert task.poke({}) is True

    contexts: list[dict[str, Any]] = []

    def with_context(files: list[dict[str, Any]], **context: Any) -> bool:
        contexts.append(context)
        return True

    task = sensor(bucket_key="ready/full.csv", bucket_name=storage.bucket, check_fn=with_context)
    assert task.poke({"ds": "2024-03-15"}) is True
    assert contexts == [{"ds": "2024-03-15"}]


def test_in_a_run_the_sensor_waits_then_times_out(storage: Storage) -> None:
    with DAG("sensing") as dag:
        sensor(
            bucket_key="{{ ds }}/done.flag",
            bucket_name=storage.bucket,
            poke_interval=0.01,
            timeout=0.05,
        )
    run = LocalDagRun(dag, logical_date=datetime(2024, 3, 15, tzinfo=UTC))
    assert run.execute().state is DagRunState.FAILED
    (record,) = run.instances["wait"]
    assert record.error is not None
    assert "timed out" in record.error

    storage.hook().load_string("", storage.bucket, "2024-03-15/done.flag")
    run = LocalDagRun(dag, logical_date=datetime(2024, 3, 15, tzinfo=UTC))
    assert run.execute().state is DagRunState.SUCCESS


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"bucket_key": []}, "bucket_key must be a key or a non-empty list of keys"),
        ({"bucket_key": ["ok", ""]}, "bucket_key must be a non-empty string"),
        ({"bucket_key": "s3://b/k", "bucket_name": "b"}, "is a URL while bucket_name 'b'"),
        ({"bucket_key": "k", "wildcard_match": "yes"}, "wildcard_match must be True or False"),
        ({"bucket_key": "k", "check_fn": "len"}, "check_fn must be callable"),
    ],
)
def test_bad_arguments(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(DagDefinitionError, match=message):
        sensor(**arguments)
