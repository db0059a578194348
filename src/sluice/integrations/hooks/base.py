"""``BaseHook``: what every hook shares, starting with finding its connection."""

from __future__ import annotations

from sluice.integrations.connection import Connection
from sluice.integrations.lookup import get_connection
from sluice.integrations.runtime import current_store


class BaseHook:
    """The base of hooks; ``BaseHook.get_connection(conn_id)`` works in any task."""

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        """The connection ``conn_id`` from ``SLUICE_CONN_<ID>`` or the metadata database;
        ConnectionNotFound naming where it looked."""
        return get_connection(conn_id, current_store)
