"""Opening the metadata database for a command."""

from __future__ import annotations

from sluice.config import Settings
from sluice.store.engine import Store
from sluice.store.schema_version import ensure_current


def open_store(settings: Settings, *, check: bool = True) -> Store:
    """The database the settings name; by default refuses one that is not migrated."""
    store = Store(settings.get_str("database", "sql_alchemy_conn"))
    if check:
        try:
            ensure_current(store)
        except BaseException:
            store.dispose()  # a refused store must not leave pooled connections behind
            raise
    return store
