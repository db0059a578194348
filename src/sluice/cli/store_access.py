"""Opening the metadata database for a command."""

from __future__ import annotations

from sluice.config import Settings
from sluice.config.fernet import fernet_keys
from sluice.store.cipher import Cipher
from sluice.store.engine import Store
from sluice.store.schema_version import ensure_current


def open_store(settings: Settings, *, check: bool = True) -> Store:
    """The database the settings name, with the Fernet key that encrypts its secrets; by
    default refuses one that is not migrated."""
    cipher = Cipher(fernet_keys(settings))
    store = Store(settings.get_str("database", "sql_alchemy_conn"), cipher=cipher)
    if check:
        try:
            ensure_current(store)
        except BaseException:
            store.dispose()  # a refused store must not leave pooled connections behind
            raise
    return store
