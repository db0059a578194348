"""Variable values, connection passwords and extras are encrypted at rest, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import insert, select
from tests.store_backends import TEST_FERNET_KEY

from sluice.store.cipher import Cipher, SecretKeyError, generate_key
from sluice.store.connections import (
    create_connection,
    get_connection,
    get_connection_secrets,
    list_connections,
    update_connection,
)
from sluice.store.engine import Store
from sluice.store.secrets_rotation import Rotated, rotate_secrets
from sluice.store.tables import Connection, Variable
from sluice.store.variables import export_variables, get_variable, list_variables, set_variable

EXTRA = '{"token": "xyzzy-extra", "timeout": 30}'


@contextmanager
def other_store(store: Store, keys: str | None) -> Iterator[Store]:
    """The same database opened with other Fernet keys (None: no key at all)."""
    other = Store(store.url, cipher=None if keys is None else Cipher(keys))
    try:
        yield other
    finally:
        other.dispose()


def raw_variable(store: Store, key: str) -> tuple[Any, ...]:
    with store.engine.connect() as connection:
        query = select(Variable.val, Variable.is_encrypted).where(Variable.key == key)
        return tuple(connection.execute(query).one())


def raw_connection(store: Store, conn_id: str) -> tuple[Any, ...]:
    columns = (Connection.password, Connection.is_encrypted, Connection.extra,
               Connection.is_extra_encrypted)  # fmt: skip
    with store.engine.connect() as connection:
        query = select(*columns).where(Connection.conn_id == conn_id)
        return tuple(connection.execute(query).one())


def seed(store: Store) -> None:
    with store.transaction() as session:
        set_variable(session, "api_token", "s3cret-value")
        create_connection(
            session, "warehouse", {"conn_type": "postgres", "extra": EXTRA}, password="pw-123"
        )


def test_stored_encrypted_and_read_back(store: Store) -> None:
    seed(store)
    val, encrypted = raw_variable(store, "api_token")
    assert encrypted is True and "s3cret" not in val
    password, password_encrypted, extra, extra_encrypted = raw_connection(store, "warehouse")
    assert password_encrypted is True and "pw-123" not in password
    assert extra_encrypted is True and "xyzzy" not in extra and "timeout" not in extra
    with store.transaction() as session:
        entry = get_variable(session, "api_token")
        assert entry is not None and entry.value == "s3cret-value"
        assert export_variables(session) == {"api_token": "s3cret-value"}
        secrets = get_connection_secrets(session, "warehouse")
        assert secrets is not None
        assert (secrets.password, secrets.extra) == ("pw-123", EXTRA)
        info = get_connection(session, "warehouse")
        assert info is not None and info.password_set
        assert info.extra is not None and "xyzzy" not in info.extra and "30" in info.extra


def test_a_wrong_key_cannot_read_and_changes_nothing(store: Store) -> None:
    seed(store)
    before = raw_variable(store, "api_token"), raw_connection(store, "warehouse")
    with other_store(store, generate_key()) as wrong:
        with pytest.raises(SecretKeyError) as caught, wrong.transaction() as session:
            get_variable(session, "api_token")
        assert "variable 'api_token'" in str(caught.value)
        assert "[core] fernet_key cannot decrypt it" in str(caught.value)
        assert "put the old key after the new one (comma-separated)" in str(caught.value)
        password_of = "the password of connection 'warehouse'"
        with pytest.raises(SecretKeyError, match=password_of), wrong.transaction() as session:
            get_connection_secrets(session, "warehouse")
        extra_of = "the extra of connection 'warehouse'"
        with pytest.raises(SecretKeyError, match=extra_of), wrong.transaction() as session:
            list_connections(session)
        # Writes that would replace what the right key reads are refused.
        with pytest.raises(SecretKeyError), wrong.transaction() as session:
            set_variable(session, "api_token", "overwritten")
        with pytest.raises(SecretKeyError), wrong.transaction() as session:
            update_connection(session, "warehouse", {"host": "h"}, password="new-pw")
        with pytest.raises(SecretKeyError), wrong.transaction() as session:
            rotate_secrets(session)
    assert (raw_variable(store, "api_token"), raw_connection(store, "warehouse")) == before


def test_rotation_re_encrypts_with_the_first_key(store: Store) -> None:
    seed(store)
    with store.engine.begin() as connection:  # a row from before encryption
        connection.execute(
            insert(Variable).values(key="old_plain", val="plain", is_encrypted=False)
        )
    new = generate_key()
    with (
        other_store(store, new) as only_new,
        pytest.raises(SecretKeyError),
        only_new.transaction() as session,
    ):
        get_variable(session, "api_token")
    before = raw_variable(store, "api_token")
    with (
        other_store(store, f"{new},{TEST_FERNET_KEY}") as rotating,
        rotating.transaction() as session,
    ):
        assert rotate_secrets(session) == Rotated(variables=2, passwords=1, extras=1)
    assert raw_variable(store, "api_token") != before
    assert raw_variable(store, "old_plain")[1] is True
    with other_store(store, new) as only_new, only_new.transaction() as session:
        assert [(e.key, e.value) for e in list_variables(session)[0]] == [
            ("api_token", "s3cret-value"),
            ("old_plain", "plain"),
        ]
        secrets = get_connection_secrets(session, "warehouse")
        assert secrets is not None and (secrets.password, secrets.extra) == ("pw-123", EXTRA)


def test_plain_rows_from_before_still_read(store: Store) -> None:
    with store.engine.begin() as connection:
        connection.execute(insert(Variable).values(key="v", val="plain value", is_encrypted=False))
        connection.execute(
            insert(Connection).values(
                conn_id="c", conn_type="http", password="plain-pw", extra='{"a": 1}'
            )
        )
    for keys in (TEST_FERNET_KEY, None):
        with other_store(store, keys) as opened, opened.transaction() as session:
            entry = get_variable(session, "v")
            assert entry is not None and entry.value == "plain value"
            secrets = get_connection_secrets(session, "c")
            assert secrets is not None
            assert (secrets.password, secrets.extra) == ("plain-pw", '{"a": 1}')


def test_without_a_key_writing_a_secret_is_refused(store: Store) -> None:
    with other_store(store, None) as keyless:
        with pytest.raises(SecretKeyError, match="no Fernet key"), keyless.transaction() as session:
            set_variable(session, "k", "v")
        with pytest.raises(SecretKeyError, match="no Fernet key"), keyless.transaction() as session:
            create_connection(session, "c", {"conn_type": "http"}, password="pw")
        with keyless.transaction() as session:  # nothing secret to encrypt: allowed
            create_connection(session, "bare", {"conn_type": "http"})
    with store.transaction() as session:
        assert get_variable(session, "k") is None
        assert [c.conn_id for c in list_connections(session)[0]] == ["bare"]
