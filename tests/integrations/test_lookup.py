"""Where Variables and Connections come from: the environment first, then the database."""

from __future__ import annotations

import pytest

from sluice import Variable
from sluice.integrations.errors import (
    ConnectionNotFound,
    NoMetadataDatabase,
    VariableNotFound,
    VariableValueError,
)
from sluice.integrations.hooks.base import BaseHook
from sluice.integrations.lookup import get_connection, get_variable
from sluice.integrations.runtime import current_store, use_store
from sluice.store import connections, variables
from sluice.store.engine import Store


def _add_connection(store: Store) -> None:
    with store.transaction() as session:
        fields = {"conn_type": "postgres", "host": "db.internal", "port": 5432, "schema": "wh",
                  "login": "etl", "extra": '{"sslmode": "require"}'}  # fmt: skip
        connections.create_connection(session, "warehouse", fields, "s3cret")


def test_a_connection_from_the_database(store: Store) -> None:
    _add_connection(store)
    conn = get_connection("warehouse", store)
    assert (conn.conn_type, conn.host, conn.port, conn.login, conn.password) == (
        "postgres",
        "db.internal",
        5432,
        "etl",
        "s3cret",
    )
    assert conn.extra_dejson == {"sslmode": "require"}
    assert conn.get_uri() == "postgres://etl:s3cret@db.internal:5432/wh?sslmode=require"


def test_the_environment_wins_over_the_database(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_connection(store)
    monkeypatch.setenv("SLUICE_CONN_WAREHOUSE", "mysql://other:pw@env-host/db")
    assert get_connection("warehouse", store).host == "env-host"
    monkeypatch.setenv("SLUICE_CONN_WAREHOUSE", '{"conn_type": "http", "host": "json-host"}')
    assert get_connection("warehouse", store).host == "json-host"


def test_a_missing_connection_names_where_it_looked(store: Store) -> None:
    with pytest.raises(ConnectionNotFound) as caught:
        get_connection("nowhere", store)
    assert str(caught.value) == (
        "connection 'nowhere' is not defined: not in the environment variable"
        " SLUICE_CONN_NOWHERE nor in the metadata database"
    )
    with pytest.raises(ConnectionNotFound, match="no metadata database is open"):
        get_connection("nowhere", None)


def test_variables_env_first_then_database(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with store.transaction() as session:
        variables.set_variable(session, "rows", '{"n": 3}')
    assert get_variable("rows", store) == '{"n": 3}'
    assert get_variable("rows", store, deserialize_json=True) == {"n": 3}
    monkeypatch.setenv("SLUICE_VAR_ROWS", '{"n": 4}')
    assert get_variable("rows", store, deserialize_json=True) == {"n": 4}
    assert get_variable("missing", store, default=None) is None


def test_a_missing_variable_is_a_key_error_naming_the_key(store: Store) -> None:
    with pytest.raises(KeyError) as caught:
        get_variable("nothing_here", store)
    assert isinstance(caught.value, VariableNotFound)
    assert str(caught.value) == (
        "variable 'nothing_here' is not defined: not in the environment variable"
        " SLUICE_VAR_NOTHING_HERE nor in the metadata database"
    )


def test_a_variable_that_is_not_json(store: Store) -> None:
    with store.transaction() as session:
        variables.set_variable(session, "plain", "not json")
    with pytest.raises(VariableValueError, match="variable 'plain' is not valid JSON"):
        get_variable("plain", store, deserialize_json=True)


def test_the_variable_api_on_the_current_store(store: Store) -> None:
    with use_store(store):
        Variable.set("config", {"a": [1, 2]}, description="settings", serialize_json=True)
        assert Variable.get("config", deserialize_json=True) == {"a": [1, 2]}
        assert Variable.get("absent", default_var="d") == "d"
        assert Variable.get("absent", default="e") == "e"
        assert Variable.delete("config") == 1
        assert Variable.get("config", default=None) is None
        _add_connection(store)
        assert BaseHook.get_connection("warehouse").password == "s3cret"
    assert current_store() is None


def test_without_a_store_only_the_environment_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_VAR_FROM_ENV", "yes")
    assert Variable.get("from_env") == "yes"
    with pytest.raises(VariableNotFound, match="no metadata database is open"):
        Variable.get("other")
    with pytest.raises(NoMetadataDatabase, match=r"Variable.set\('k'\) needs the metadata"):
        Variable.set("k", "v")


def test_an_opener_opens_the_store_only_when_a_value_is_read(store: Store) -> None:
    opened: list[Store] = []

    def opener() -> Store:
        opened.append(Store(store.url))
        return opened[-1]

    with use_store(opener):
        assert opened == []
        assert Variable.get("x", default=None) is None
        assert Variable.get("y", default=None) is None
    assert len(opened) == 1


def test_an_opener_without_a_database_leaves_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def opener() -> None:
        calls.append(1)

    monkeypatch.setenv("SLUICE_VAR_HERE", "env")
    with use_store(opener):
        assert Variable.get("here") == "env"
        assert calls == []
        assert Variable.get("gone", default="d") == "d"
        with pytest.raises(VariableNotFound, match="no metadata database is open"):
            Variable.get("gone")
    assert calls == [1]
