"""The databases the store tests run on: SQLite always, PostgreSQL and MySQL when enabled.

Set ``SLUICE_TEST_POSTGRES_URL`` (e.g. ``postgresql://postgres@127.0.0.1:5432/test``) and
``SLUICE_TEST_MYSQL_URL`` (e.g. ``mysql://root@127.0.0.1:3306/test``) to include them;
``.ci/run`` sets both to the local servers. Each test session creates a database of its own
on those servers (``sluice_test_<pid>_<random>``, dropped at the end), so that sessions
running at the same time never drop each other's tables; the URL's user needs the right
to create databases.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import delete, make_url, text

from sluice.store.cipher import Cipher, generate_key
from sluice.store.engine import Store, make_engine
from sluice.store.schema import drop_schema, ensure_default_pool, migrate
from sluice.store.tables import Base

BACKENDS = ["sqlite", "postgresql", "mysql"]
_ENV = {"postgresql": "SLUICE_TEST_POSTGRES_URL", "mysql": "SLUICE_TEST_MYSQL_URL"}
TEST_FERNET_KEY = generate_key()
"""The Fernet key of the test stores (commands on them get it as [core] fernet_key)."""


def backend_url(backend: str, tmp_dir: Path) -> str:
    """The URL given for ``backend`` (SQLite: a file in ``tmp_dir``), or skip the test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / 'sluice-test.db'}"
    url = os.environ.get(_ENV[backend])
    if not url:
        pytest.skip(f"{backend} tests are off: set {_ENV[backend]} to enable them")
    return url


def server_command(url: str, sql: str) -> None:
    """Run one statement outside any transaction (CREATE or DROP DATABASE)."""
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


@contextmanager
def new_database(backend: str, url: str, prefix: str) -> Iterator[str]:
    """The URL of a new database ``<prefix>_<pid>_<random>`` on the server of ``url``,
    dropped at the end of the block."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    server_command(url, f"CREATE DATABASE {name}")
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        server_command(url, f"DROP DATABASE IF EXISTS {name}{force}")


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A new, empty database for this session on ``request.param``'s backend."""
    backend: str = request.param
    url = backend_url(backend, tmp_path_factory.mktemp(backend))
    if backend == "sqlite":
        yield url
        return
    with new_database(backend, url, "sluice_test") as created:
        yield created


@pytest.fixture(scope="session")
def store_session(database_url: str) -> Iterator[Store]:
    """One migrated database per backend for the whole test session; its sessions encrypt
    secrets with a key of their own."""
    store = Store(database_url, cipher=Cipher(TEST_FERNET_KEY))
    migrate(store)
    yield store
    drop_schema(store)
    store.dispose()


@pytest.fixture
def store(store_session: Store) -> Iterator[Store]:
    """A freshly migrated database: every table emptied, then default_pool put back."""
    with store_session.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))
    ensure_default_pool(store_session)
    yield store_session


@pytest.fixture
def empty_store(store_session: Store) -> Iterator[Store]:
    """The session's database with no schema at all; migrated again afterwards."""
    drop_schema(store_session)
    yield store_session
    drop_schema(store_session)
    migrate(store_session)
