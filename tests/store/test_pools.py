"""Pools: set, list with usage, delete, and the refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sluice.core.errors import StoreError
from sluice.store import pools
from sluice.store.engine import Store
from sluice.store.tables import DagRun, TaskInstance

WHEN = datetime(2024, 1, 1, tzinfo=UTC)


def _instances(store: Store, pool: str, states: dict[str, tuple[str | None, int]]) -> None:
    """Task instances of one run in ``pool``: task id -> (state, pool_slots)."""
    with store.transaction() as session:
        session.add(
            DagRun(dag_id="d", run_id=pool, logical_date=WHEN, run_type="manual", state="running")
        )
        for task_id, (state, slots) in states.items():
            session.add(
                TaskInstance(
                    dag_id="d", run_id=pool, task_id=task_id, state=state, pool=pool,
                    pool_slots=slots,
                )
            )  # fmt: skip


def test_default_pool_exists_after_migration(store: Store) -> None:
    with store.transaction() as session:
        usage = pools.get_pool(session, pools.DEFAULT_POOL)
    assert usage is not None and usage.slots == pools.DEFAULT_POOL_SLOTS
    assert usage.open == pools.DEFAULT_POOL_SLOTS


def test_set_creates_then_updates_and_keeps_the_description(store: Store) -> None:
    with store.transaction() as session:
        pools.set_pool(session, "db", 3, "the warehouse")
    with store.transaction() as session:
        pools.set_pool(session, "db", 5)
    with store.transaction() as session:
        usage = pools.get_pool(session, "db")
        assert usage is not None
        assert (usage.slots, usage.description) == (5, "the warehouse")
        pools.set_pool(session, "db", 0, "paused")
    with store.transaction() as session:
        usage = pools.get_pool(session, "db")
        assert usage is not None and (usage.slots, usage.description) == (0, "paused")
        assert pools.get_pool(session, "nope") is None


def test_list_counts_the_slots_of_running_queued_and_scheduled_instances(store: Store) -> None:
    with store.transaction() as session:
        pools.set_pool(session, "db", 10)
    _instances(
        store,
        "db",
        {
            "a": ("running", 2),
            "b": ("queued", 3),
            "c": ("scheduled", 1),
            "d": ("scheduled", 4),
            "e": ("success", 7),
            "f": (None, 1),
        },
    )

    with store.transaction() as session:
        listed = {usage.name: usage for usage in pools.list_pools(session)}
        free = pools.open_slots(session)

    assert list(listed) == ["db", "default_pool"]
    db = listed["db"]
    assert (db.running, db.queued, db.occupied, db.scheduled, db.open) == (2, 3, 5, 5, 5)
    assert listed["default_pool"].occupied == 0
    assert free == {"db": 5, "default_pool": pools.DEFAULT_POOL_SLOTS}


def test_a_shrunk_pool_shows_negative_open_slots(store: Store) -> None:
    with store.transaction() as session:
        pools.set_pool(session, "small", 4)
    _instances(store, "small", {"a": ("running", 3)})
    with store.transaction() as session:
        pools.set_pool(session, "small", 1)
        usage = pools.get_pool(session, "small")
    assert usage is not None and usage.open == -2


def test_delete(store: Store) -> None:
    with store.transaction() as session:
        pools.set_pool(session, "tmp", 2)
    _instances(store, "tmp", {"done": ("success", 1), "waiting": ("scheduled", 1)})
    with store.transaction() as session:
        pools.delete_pool(session, "tmp")
    with store.transaction() as session:
        assert pools.get_pool(session, "tmp") is None


@pytest.mark.parametrize("state", ["queued", "running"])
def test_a_pool_in_use_cannot_be_deleted(store: Store, state: str) -> None:
    with store.transaction() as session:
        pools.set_pool(session, "busy", 2)
    _instances(store, "busy", {"a": (state, 1)})
    with (
        pytest.raises(StoreError, match=r"pool 'busy' is in use: 1 task instance is queued or"),
        store.transaction() as session,
    ):
        pools.delete_pool(session, "busy")
    with store.transaction() as session:
        assert pools.get_pool(session, "busy") is not None


def test_default_pool_and_missing_pools_cannot_be_deleted(store: Store) -> None:
    with store.transaction() as session:
        pools.set_pool(session, "warehouse", 2)
        with pytest.raises(StoreError, match="default_pool cannot be deleted"):
            pools.delete_pool(session, "default_pool")
        with pytest.raises(StoreError, match=r"Pool 'warehose' not found. Did you mean: 'ware"):
            pools.delete_pool(session, "warehose")


@pytest.mark.parametrize(
    ("name", "slots", "message"),
    [
        ("", 1, "a pool name cannot be empty"),
        ("has space", 1, "may hold only letters, digits"),
        ("x" * 257, 1, "257 characters long; the most is 256"),
        ("ok", -1, "slots must be a whole number of 0 or more, not -1"),
        ("ok", True, "slots must be a whole number"),
    ],
)
def test_bad_names_and_slots_are_refused(store: Store, name: str, slots: int, message: str) -> None:
    with pytest.raises(StoreError, match=message), store.transaction() as session:
        pools.set_pool(session, name, slots)
    with store.transaction() as session:
        assert [usage.name for usage in pools.list_pools(session)] == ["default_pool"]
