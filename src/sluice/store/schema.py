"""Creating, upgrading, checking and dropping the schema."""

from __future__ import annotations

from sluice.store.engine import Store
from sluice.store.tables import Base


def create_schema(store: Store) -> None:
    """Create every table that does not exist yet."""
    Base.metadata.create_all(store.engine)


def drop_schema(store: Store) -> None:
    """Drop every table (and the migration history)."""
    Base.metadata.drop_all(store.engine)


def ensure_current(store: Store) -> None:
    """Raise StoreError unless the schema exists and is up to date."""
    from sqlalchemy import inspect

    from sluice.core.errors import StoreError

    if "dag_run" not in inspect(store.engine).get_table_names():
        raise StoreError(
            f"the database at {store.engine.url.render_as_string(hide_password=True)} has no "
            "Sluice tables; run `sluice db migrate`"
        )
