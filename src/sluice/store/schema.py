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
