"""Migrations: create, upgrade, check, reset and drop the schema on every backend."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text, update

from sluice.core.errors import StoreError
from sluice.store import schema
from sluice.store.engine import Store
from sluice.store.pools import DEFAULT_POOL
from sluice.store.schema_version import HEAD_REVISION, REVISIONS
from sluice.store.tables import Base, DagRun, Pool, TaskInstance

ALL_TABLES = set(Base.metadata.tables)


def _tables(store: Store) -> set[str]:
    return set(inspect(store.engine).get_table_names())


def _default_pool_slots(store: Store) -> int | None:
    with store.transaction() as session:
        slots: int | None = session.scalar(select(Pool.slots).where(Pool.pool == DEFAULT_POOL))
        return slots


def test_migrate_creates_every_table_and_default_pool(empty_store: Store) -> None:
    before = schema.check(empty_store)
    assert before.current is None and not before.up_to_date
    assert set(before.missing_tables) == ALL_TABLES

    result = schema.migrate(empty_store, default_pool_slots=7)

    assert (result.before, result.after, result.changed) == (None, schema.head_revision(), True)
    assert ALL_TABLES | {schema.VERSION_TABLE} <= _tables(empty_store)
    assert _default_pool_slots(empty_store) == 7
    after = schema.check(empty_store)
    assert after.up_to_date and after.current == after.head and after.missing_tables == ()


def test_two_processes_migrating_at_once_take_turns(empty_store: Store) -> None:
    stores = [Store(empty_store.url) for _ in range(3)]
    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            results = list(pool.map(schema.migrate, stores))
    finally:
        for other in stores:
            other.dispose()

    assert sorted(r.before is None for r in results) == [False, False, True]
    assert schema.check(empty_store).up_to_date
    with empty_store.transaction() as session:
        assert session.scalars(select(Pool.pool)).all() == [DEFAULT_POOL]


def test_migrating_again_changes_nothing(store: Store) -> None:
    with store.transaction() as session:
        session.execute(update(Pool).values(slots=3))

    result = schema.migrate(store, default_pool_slots=99)

    assert not result.changed and result.before == result.after == schema.head_revision()
    assert _default_pool_slots(store) == 3  # a pool the user changed is left alone


def test_migrated_schema_equals_the_tables_module(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_timestamps_keep_microseconds_and_utc(store: Store) -> None:
    # compare_metadata does not see MySQL's fractional-seconds precision; a round trip does.
    when = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    with store.transaction() as session:
        session.add(
            DagRun(dag_id="d", run_id="r", logical_date=when, run_type="manual", state="queued")
        )
    with store.transaction() as session:
        assert session.scalar(select(DagRun.logical_date)) == when


def test_downgrade_to_base_and_upgrade_again(store: Store) -> None:
    with store.engine.connect() as connection:
        command.downgrade(schema.alembic_config(connection), "base")
        connection.commit()
    assert not (_tables(store) & ALL_TABLES)
    assert schema.check(store).current is None

    schema.migrate(store)

    assert schema.check(store).up_to_date


def test_ensure_current_names_the_command_to_run(empty_store: Store) -> None:
    with pytest.raises(StoreError, match=r"has no Sluice schema; run `sluice db migrate`"):
        schema.ensure_current(empty_store)
    schema.migrate(empty_store)
    schema.ensure_current(empty_store)


def test_a_revision_from_a_newer_sluice_is_refused(store: Store) -> None:
    with store.engine.begin() as connection:
        connection.execute(text(f"UPDATE {schema.VERSION_TABLE} SET version_num = 'ffff'"))
    try:
        with pytest.raises(StoreError, match="revision ffff, which this Sluice does not know"):
            schema.ensure_current(store)
        with pytest.raises(StoreError, match="upgrade Sluice"):
            schema.migrate(store)
    finally:
        with store.engine.begin() as connection:
            connection.execute(
                text(f"UPDATE {schema.VERSION_TABLE} SET version_num = :head"),
                {"head": schema.head_revision()},
            )


def test_tables_without_migration_history_are_refused(empty_store: Store) -> None:
    Base.metadata.tables["slot_pool"].create(empty_store.engine)

    with pytest.raises(StoreError, match=r"no migration history.*`sluice db reset --yes`"):
        schema.migrate(empty_store)
    assert schema.check(empty_store).current is None


def test_reset_empties_every_table(store: Store) -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    with store.transaction() as session:
        session.add(
            DagRun(dag_id="d", run_id="r", logical_date=when, run_type="manual", state="queued")
        )
        session.add(TaskInstance(dag_id="d", run_id="r", task_id="t"))

    result = schema.reset(store, default_pool_slots=5)

    assert result.before is None and result.after == schema.head_revision()
    with store.transaction() as session:
        assert session.scalars(select(DagRun)).all() == []
        assert session.scalars(select(TaskInstance)).all() == []
    assert _default_pool_slots(store) == 5
    assert schema.check(store).up_to_date


def test_drop_schema_leaves_other_tables_alone(empty_store: Store) -> None:
    schema.migrate(empty_store)
    with empty_store.engine.begin() as connection:
        connection.execute(text("CREATE TABLE not_sluice (id INTEGER PRIMARY KEY)"))
    try:
        schema.drop_schema(empty_store)
        assert _tables(empty_store) == {"not_sluice"}
    finally:
        with empty_store.engine.begin() as connection:
            connection.execute(text("DROP TABLE not_sluice"))


def test_an_unreachable_database_is_one_clear_error() -> None:
    store = Store("postgresql://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(StoreError, match=r"cannot use the database at postgresql"):
            schema.check(store)
        with pytest.raises(StoreError, match=r"cannot use the database at postgresql"):
            schema.ensure_current(store)
    finally:
        store.dispose()


def test_the_revision_list_matches_the_migration_scripts() -> None:
    # schema_version answers without Alembic, so its list must follow the scripts.
    scripts = ScriptDirectory.from_config(schema.alembic_config())
    assert list(REVISIONS) == [s.revision for s in reversed(list(scripts.walk_revisions()))]
    assert scripts.get_current_head() == HEAD_REVISION
