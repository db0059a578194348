"""Creating, upgrading, checking and dropping the schema, with Alembic configured in code.

There is no alembic.ini: the migrations are package data beside this module, and every
command runs on a connection opened here, under a lock, so that two processes starting
at once (``sluice standalone`` and a second scheduler) do not both migrate.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, insert, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from sluice.core.errors import StoreError
from sluice.store.engine import Store
from sluice.store.pools import DEFAULT_POOL, DEFAULT_POOL_SLOTS
from sluice.store.schema_version import (
    ensure_current,
    unknown_revision,
    unreachable,
    url,
)
from sluice.store.tables import Base, Pool

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
_LOCK_NAME = "sluice_schema"
_LOCK_KEY = 0x51C3  # any constant: PostgreSQL's advisory locks are numbered


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands against the migrations this Sluice ships."""

    url: str
    current: str | None
    """The database's revision; None when it was never migrated."""
    head: str
    missing_tables: tuple[str, ...]

    @property
    def up_to_date(self) -> bool:
        """At the head revision, with every table present."""
        return self.current == self.head and not self.missing_tables


@dataclass(frozen=True)
class MigrateResult:
    """What ``migrate`` did: the revision before and after."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        """Whether any migration ran."""
        return self.before != self.after


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code; migrations run on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    """The newest revision this Sluice ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StoreError(f"no migrations found in {MIGRATIONS}")
    return head


def migrate(store: Store, *, default_pool_slots: int = DEFAULT_POOL_SLOTS) -> MigrateResult:
    """Create the schema or upgrade it to the head revision; add default_pool if missing."""
    with _locked(store) as connection:
        before = _current(connection)
        if before is None:
            _refuse_unversioned_tables(store, connection)
        elif before not in _known_revisions():
            raise unknown_revision(store, before)
        command.upgrade(alembic_config(connection), "head")
        _ensure_default_pool(connection, default_pool_slots)
    return MigrateResult(before=before, after=head_revision())


def check(store: Store) -> SchemaStatus:
    """Compare the database with the migrations, changing nothing."""
    try:
        with store.engine.connect() as connection:
            current = _current(connection)
            present = set(inspect(connection).get_table_names())
    except SQLAlchemyError as exc:
        raise unreachable(store, exc) from None
    missing = tuple(sorted(set(Base.metadata.tables) - present))
    return SchemaStatus(url(store), current, head_revision(), missing)


def drop_schema(store: Store) -> None:
    """Drop every Sluice table and the migration history (other tables are left alone)."""
    with _locked(store) as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))


def reset(store: Store, *, default_pool_slots: int = DEFAULT_POOL_SLOTS) -> MigrateResult:
    """Drop everything, then migrate from scratch: an empty database at the head revision."""
    drop_schema(store)
    return migrate(store, default_pool_slots=default_pool_slots)


def ensure_default_pool(store: Store, slots: int = DEFAULT_POOL_SLOTS) -> None:
    """Add default_pool with ``slots`` slots unless it exists (its slots are left as they are)."""
    with store.engine.begin() as connection:
        _ensure_default_pool(connection, slots)


def _ensure_default_pool(connection: Connection, slots: int) -> None:
    found = connection.scalar(select(Pool.id).where(Pool.pool == DEFAULT_POOL))
    if found is None:
        connection.execute(
            insert(Pool).values(pool=DEFAULT_POOL, slots=slots, description="Default pool")
        )


@contextmanager
def _locked(store: Store) -> Iterator[Connection]:
    """A connection in a transaction that holds the schema lock; committed on success."""
    try:
        with store.engine.connect() as connection:
            # SQLite needs no lock of its own: BEGIN IMMEDIATE (engine.py) serialises writers.
            if store.backend == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            elif store.backend == "mysql":
                got = connection.scalar(text("SELECT GET_LOCK(:name, 300)"), {"name": _LOCK_NAME})
                if got != 1:
                    raise StoreError(
                        f"another process has been changing the schema of {url(store)} for "
                        "5 minutes; try again when it is done"
                    )
            try:
                yield connection
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            finally:
                # MySQL's lock belongs to the session, which outlives this pooled connection.
                if store.backend == "mysql":
                    connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": _LOCK_NAME})
                    connection.commit()
    except SQLAlchemyError as exc:
        raise unreachable(store, exc) from None


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@cache
def _known_revisions() -> frozenset[str]:
    scripts = ScriptDirectory.from_config(alembic_config())
    return frozenset(script.revision for script in scripts.walk_revisions())


def _refuse_unversioned_tables(store: Store, connection: Connection) -> None:
    # Tables without a revision were made some other way (create_all, another tool):
    # upgrading would fail half-way on "table exists", so say what to do instead.
    present = set(inspect(connection).get_table_names()) & set(Base.metadata.tables)
    if present:
        raise StoreError(
            f"the database at {url(store)} has Sluice tables ({', '.join(sorted(present))}) "
            "but no migration history; back it up and run `sluice db reset --yes`"
        )


__all__ = ["check", "drop_schema", "ensure_current", "migrate", "reset"]
