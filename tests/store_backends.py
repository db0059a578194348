"""The databases the store tests run on: SQLite always, PostgreSQL and MySQL when enabled.

Set ``SLUICE_TEST_POSTGRES_URL`` (e.g. ``postgresql://postgres@127.0.0.1:5432/test``) and
``SLUICE_TEST_MYSQL_URL`` (e.g. ``mysql://root@127.0.0.1:3306/test``) to include them;
``.ci/run`` sets both to the local servers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from sluice.store.engine import Store
from sluice.store.schema import create_schema, drop_schema
from sluice.store.tables import Base

BACKENDS = ["sqlite", "postgresql", "mysql"]
_ENV = {"postgresql": "SLUICE_TEST_POSTGRES_URL", "mysql": "SLUICE_TEST_MYSQL_URL"}


def backend_url(backend: str, tmp_dir: Path) -> str:
    """The URL to test ``backend`` on, or skip with the variable that enables it."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / 'sluice-test.db'}"
    url = os.environ.get(_ENV[backend])
    if not url:
        pytest.skip(f"{backend} tests are off: set {_ENV[backend]} to enable them")
    return url


@pytest.fixture(scope="session", params=BACKENDS)
def store_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """One migrated database per backend for the whole test session."""
    url = backend_url(request.param, tmp_path_factory.mktemp(request.param))
    store = Store(url)
    drop_schema(store)
    create_schema(store)
    yield store
    drop_schema(store)
    store.dispose()


@pytest.fixture
def store(store_session: Store) -> Iterator[Store]:
    """An empty database (every table emptied before the test), on each backend."""
    with store_session.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))
    yield store_session
