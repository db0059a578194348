"""XCom values in the database: the store a task uses, and the scheduler's queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sluice.core.errors import XComError
from sluice.runner.xcom import pull_one, push
from sluice.store.engine import Store
from sluice.store.tables import DagRun
from sluice.store.xcoms import DbXComStore, pull_values, xcom_lengths

WHEN = datetime(2024, 1, 1, tzinfo=UTC)


def _run(store: Store, run_id: str = "r", dag_id: str = "d") -> None:
    with store.transaction() as session:
        session.add(
            DagRun(
                dag_id=dag_id,
                run_id=run_id,
                logical_date=WHEN if run_id == "r" else datetime(2024, 1, 2, tzinfo=UTC),
                run_type="manual",
                state="running",
            )
        )


def test_set_get_replace_and_clear(store: Store) -> None:
    _run(store)
    xcom = DbXComStore(store, "d", "r")
    assert xcom.get("t", -1, "return_value") is None
    xcom.set("t", -1, "return_value", "1")
    xcom.set("t", -1, "return_value", "2")
    xcom.set("t", -1, "other", '"x"')
    assert xcom.get("t", -1, "return_value") == "2"
    xcom.clear("t", -1)
    assert xcom.get("t", -1, "return_value") is None
    assert xcom.get("t", -1, "other") is None


def test_values_stay_in_their_run_and_map_index(store: Store) -> None:
    _run(store)
    _run(store, "r2")
    first, second = DbXComStore(store, "d", "r"), DbXComStore(store, "d", "r2")
    for index in (2, 0, 1):
        push(first, "m", index, "return_value", {"i": index}, where="test")
    push(second, "m", 5, "return_value", "other run", where="test")
    assert first.map_indexes("m", "return_value") == [0, 1, 2]
    assert second.map_indexes("m", "return_value") == [5]
    assert pull_one(first, "m", 1, "return_value") == {"i": 1}
    first.clear("m", 1)
    assert first.map_indexes("m", "return_value") == [0, 2]


def test_a_run_that_does_not_exist_is_a_clear_error(store: Store) -> None:
    with pytest.raises(XComError, match="DAG 'd' has no run 'nope' to hold XCom values"):
        DbXComStore(store, "d", "nope").get("t", -1, "return_value")


def test_pull_values_and_lengths_for_expanding_mapped_tasks(store: Store) -> None:
    _run(store)
    xcom = DbXComStore(store, "d", "r")
    push(xcom, "plain", -1, "return_value", [1, 2, 3], where="test")
    push(xcom, "dict", -1, "return_value", {"a": 1, "b": 2}, where="test")
    push(xcom, "scalar", -1, "return_value", "text", where="test")
    push(xcom, "mapped", 0, "return_value", [1], where="test")
    push(xcom, "mapped", 1, "return_value", [1, 2], where="test")
    push(xcom, "plain", -1, "other", [9], where="test")
    with store.transaction() as session:
        assert pull_values(session, "d", "r", "plain") == {-1: [1, 2, 3]}
        assert pull_values(session, "d", "r", "plain", "other") == {-1: [9]}
        assert pull_values(session, "d", "r", "missing") == {}
        assert pull_values(session, "d", "r2", "plain") == {}
        assert xcom_lengths(session, "d", "r", "plain") == {-1: 3}
        assert xcom_lengths(session, "d", "r", "dict") == {-1: 2}
        assert xcom_lengths(session, "d", "r", "scalar") == {-1: None}
        assert xcom_lengths(session, "d", "r", "mapped") == {0: 1, 1: 2}


def test_deleting_a_run_deletes_its_values(store: Store) -> None:
    _run(store)
    push(DbXComStore(store, "d", "r"), "t", -1, "return_value", 1, where="test")
    with store.transaction() as session:
        session.delete(session.query(DagRun).one())
    _run(store)
    assert DbXComStore(store, "d", "r").get("t", -1, "return_value") is None
