"""Is the database at this Sluice's schema revision? Answered without loading Alembic.

Every command that opens the store asks this first; importing Alembic and reading its
migration scripts would add a fifth of a second to each of them.
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError

from sluice.core.errors import StoreError
from sluice.store.engine import Store

REVISIONS: tuple[str, ...] = ("0001", "0002", "0003")
"""Every migration revision this Sluice ships, oldest first; a test checks it against
the scripts in ``migrations/versions``."""

HEAD_REVISION = REVISIONS[-1]
VERSION_TABLE = "alembic_version"


def current_revision(store: Store) -> str | None:
    """The revision the database is at, or None when it has no Sluice schema."""
    try:
        with store.engine.connect() as connection:
            if not inspect(connection).has_table(VERSION_TABLE):
                return None
            return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    except SQLAlchemyError as exc:
        raise unreachable(store, exc) from None


def ensure_current(store: Store) -> None:
    """Raise StoreError unless the schema is at the head revision."""
    current = current_revision(store)
    if current == HEAD_REVISION:
        return
    if current is None:
        raise StoreError(
            f"the database at {url(store)} has no Sluice schema; run `sluice db migrate`"
        )
    if current not in REVISIONS:
        raise unknown_revision(store, current)
    raise StoreError(
        f"the database at {url(store)} is at revision {current}, this Sluice needs "
        f"{HEAD_REVISION}; run `sluice db migrate`"
    )


def unknown_revision(store: Store, revision: str) -> StoreError:
    """The error for a database migrated by a newer Sluice."""
    return StoreError(
        f"the database at {url(store)} is at revision {revision}, which this Sluice does not "
        f"know (its newest is {HEAD_REVISION}); a newer Sluice migrated it, so upgrade Sluice"
    )


def unreachable(store: Store, exc: SQLAlchemyError) -> StoreError:
    """The error for a database that cannot be reached or read."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return StoreError(f"cannot use the database at {url(store)}: {reason}")


def url(store: Store) -> str:
    """The store's URL with any password hidden."""
    return store.engine.url.render_as_string(hide_password=True)
