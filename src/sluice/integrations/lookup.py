"""Where Variables and Connections come from: the environment first, then the database.

``SLUICE_VAR_<KEY>`` and ``SLUICE_CONN_<CONN_ID>`` (the key or id in upper case) win over
the database, as Airflow's ``AIRFLOW_VAR_`` and ``AIRFLOW_CONN_`` do; a connection variable
holds a URI, or the JSON form when it starts with ``{``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from sluice.integrations.connection import Connection
from sluice.integrations.errors import ConnectionNotFound, VariableNotFound, VariableValueError
from sluice.integrations.masking import register_connection_secrets, register_variable
from sluice.integrations.runtime import current_store

if TYPE_CHECKING:
    from sluice.store.engine import Store

# The store's modules (and SQLAlchemy) are imported where the database is read: a task or
# a `dags test` that reads no variable, and every `sluice` command, stays without them.

VAR_PREFIX = "SLUICE_VAR_"
CONN_PREFIX = "SLUICE_CONN_"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
"""No default given: a missing variable is an error."""

StoreSource: TypeAlias = "Store | Callable[[], Store | None] | None"
"""A store, or a function that gives it (called only when the environment has no value)."""


def _resolve(source: StoreSource) -> Store | None:
    return source() if callable(source) else source


def variable_env_name(key: str) -> str:
    """The environment variable that overrides the variable ``key``."""
    return VAR_PREFIX + key.upper()


def connection_env_name(conn_id: str) -> str:
    """The environment variable that defines the connection ``conn_id``."""
    return CONN_PREFIX + conn_id.upper()


def env_variable(key: str) -> str | None:
    """The variable ``key`` from the environment, or None."""
    return os.environ.get(variable_env_name(key))


def find_variable(key: str, source: StoreSource) -> str | None:
    """The variable ``key`` as text: the environment's, else the database's, else None.
    A value whose key looks secret is masked in the task's log from now on."""
    value = env_variable(key)
    if value is None:
        value = _stored_variable(key, source)
    if value is not None:
        register_variable(key, value)
    return value


def _stored_variable(key: str, source: StoreSource) -> str | None:
    store = _resolve(source)
    if store is None:
        return None
    from sluice.store import variables
    from sluice.store.engine import READ_ONLY

    with store.transaction() as session:
        session.connection(execution_options={READ_ONLY: True})
        entry = variables.get_variable(session, key)
    return None if entry is None else entry.value


def task_variable(key: str) -> str | None:
    """The variable ``key`` from the environment or the current store (templates' ``var``)."""
    return find_variable(key, current_store)


def get_variable(
    key: str, source: StoreSource, default: Any = MISSING, *, deserialize_json: bool = False
) -> Any:
    """The variable ``key`` (parsed when ``deserialize_json``), or ``default``.

    Raises VariableNotFound naming where it looked when there is no default.
    """
    value = find_variable(key, source)
    if value is None:
        if default is not MISSING:
            return default
        looked = _looked(variable_env_name(key), _resolve(source))
        raise VariableNotFound(f"variable '{key}' is not defined: {looked}")
    if not deserialize_json:
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise VariableValueError(f"variable '{key}' is not valid JSON: {exc}") from None


def find_connection(conn_id: str, source: StoreSource) -> Connection | None:
    """The connection ``conn_id``: from the environment, else the database, else None.
    Its password and secret-named extra fields are masked in the task's log from now on."""
    text = os.environ.get(connection_env_name(conn_id))
    found = Connection.from_text(conn_id, text) if text is not None else None
    if found is None:
        found = _stored_connection(conn_id, source)
    if found is not None:
        register_connection_secrets(found.password, found.extra_dejson)
    return found


def _stored_connection(conn_id: str, source: StoreSource) -> Connection | None:
    store = _resolve(source)
    if store is None:
        return None
    from sluice.store import connections
    from sluice.store.engine import READ_ONLY

    with store.transaction() as session:
        session.connection(execution_options={READ_ONLY: True})
        found = connections.get_connection_secrets(session, conn_id)
        # ConnectionSecrets has no description; ConnectionInfo has it (the same row).
        info = connections.get_connection(session, conn_id) if found is not None else None
    if found is None:
        return None
    return Connection(
        conn_id=found.conn_id,
        conn_type=found.conn_type,
        host=found.host,
        schema=found.schema,
        login=found.login,
        password=found.password,
        port=found.port,
        extra=found.extra,
        description=info.description if info is not None else None,
    )


def task_connection(conn_id: str) -> Connection | None:
    """The connection ``conn_id`` from the environment or the current store (``conn``)."""
    return find_connection(conn_id, current_store)


def get_connection(conn_id: str, source: StoreSource) -> Connection:
    """The connection ``conn_id``; ConnectionNotFound naming where it looked."""
    found = find_connection(conn_id, source)
    if found is None:
        looked = _looked(connection_env_name(conn_id), _resolve(source))
        raise ConnectionNotFound(f"connection '{conn_id}' is not defined: {looked}")
    return found


def _looked(env_name: str, store: Store | None) -> str:
    if store is None:
        return f"not in the environment variable {env_name}, and no metadata database is open"
    return f"not in the environment variable {env_name} nor in the metadata database"
