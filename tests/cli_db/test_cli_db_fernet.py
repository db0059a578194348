"""``sluice rotate-fernet-key`` and the key kept in SLUICE_HOME when none is configured."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import insert, select
from tests.cli_db.conftest import Sluice
from tests.cli_db.helpers import audit_events, error_line, ok
from tests.store_backends import TEST_FERNET_KEY

from sluice.store.cipher import Cipher, generate_key
from sluice.store.connections import create_connection, get_connection_secrets
from sluice.store.engine import Store
from sluice.store.tables import Connection, Variable
from sluice.store.variables import get_variable, set_variable


@contextmanager
def opened(store: Store, keys: str) -> Iterator[Store]:
    """The test database opened with ``keys``."""
    other = Store(store.url, cipher=Cipher(keys))
    try:
        yield other
    finally:
        other.dispose()


def raw_secrets(store: Store) -> list[tuple[object, ...]]:
    with store.engine.connect() as connection:
        variables = connection.execute(select(Variable.val, Variable.is_encrypted))
        connections = connection.execute(
            select(Connection.password, Connection.extra, Connection.is_extra_encrypted)
        )
        return [tuple(row) for row in [*variables, *connections]]


def seed(store: Store) -> None:
    with store.transaction() as session:
        set_variable(session, "api_token", "s3cret")
        create_connection(session, "db", {"conn_type": "postgres", "extra": '{"a": 1}'}, "pw")
    with store.engine.begin() as connection:  # a row from before encryption
        connection.execute(insert(Variable).values(key="plain", val="as it was"))


def test_rotate_with_new_then_old_key(sluice: Sluice, store: Store) -> None:
    seed(store)
    new = generate_key()
    result = ok(
        sluice("rotate-fernet-key", env={"SLUICE__CORE__FERNET_KEY": f"{new},{TEST_FERNET_KEY}"})
    )
    assert result.output == (
        "Re-encrypted 2 variable value(s), 1 connection password(s) and 1 connection extra(s)"
        " with the first key.\n"
    )
    assert ("cli_rotate_fernet_key", None) in audit_events(store)
    with opened(store, new) as only_new, only_new.transaction() as session:
        token, plain = get_variable(session, "api_token"), get_variable(session, "plain")
        assert token is not None and token.value == "s3cret"
        assert plain is not None and plain.value == "as it was"
        secrets = get_connection_secrets(session, "db")
        assert secrets is not None and (secrets.password, secrets.extra) == ("pw", '{"a": 1}')
    assert all(row[-1] is True for row in raw_secrets(store))


def test_a_wrong_key_is_refused_and_nothing_changes(sluice: Sluice, store: Store) -> None:
    seed(store)
    before = raw_secrets(store)
    result = sluice("rotate-fernet-key", env={"SLUICE__CORE__FERNET_KEY": generate_key()})
    line = error_line(result)
    assert "cannot read variable 'api_token'" in line
    assert "[core] fernet_key cannot decrypt it" in line
    assert "put the old key after the new one (comma-separated)" in line
    assert raw_secrets(store) == before
    assert ("cli_rotate_fernet_key", None) not in audit_events(store)


def test_a_bad_key_is_refused(sluice: Sluice, store: Store) -> None:
    line = error_line(sluice("rotate-fernet-key", env={"SLUICE__CORE__FERNET_KEY": "nope"}))
    assert "[core] fernet_key: key 1 of 1 is not a Fernet key" in line


def test_without_a_configured_key_one_is_kept_in_sluice_home(
    sluice: Sluice, store: Store, db_env: dict[str, str]
) -> None:
    with store.engine.begin() as connection:
        connection.execute(insert(Variable).values(key="plain", val="as it was"))
    unset = {"SLUICE__CORE__FERNET_KEY": ""}
    key_file = Path(db_env["SLUICE_HOME"]) / "fernet_key"
    assert not key_file.exists()
    ok(sluice("rotate-fernet-key", env=unset))
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    Cipher(key)  # a valid Fernet key
    ok(sluice("rotate-fernet-key", env=unset))  # read again, not replaced
    assert key_file.read_text().strip() == key
    with opened(store, key) as keyed, keyed.transaction() as session:
        entry = get_variable(session, "plain")
        assert entry is not None and entry.value == "as it was"
    assert raw_secrets(store)[0][1] is True


def test_a_broken_key_file_is_refused(sluice: Sluice, store: Store, db_env: dict[str, str]) -> None:
    key_file = Path(db_env["SLUICE_HOME"]) / "fernet_key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text("garbage\n")
    line = error_line(sluice("rotate-fernet-key", env={"SLUICE__CORE__FERNET_KEY": ""}))
    assert f"{key_file} does not hold a Fernet key" in line
