"""Databases that hold a pipeline's data (not Sluice's metadata), for hooks and operators.

``data_url`` gives, per backend, a database of its own for the test session (SQLite: a
file; PostgreSQL and MySQL: ``sluice_data_<pid>_<random>``, dropped at the end), so that
sessions running at once never see each other's tables. ``sql_conn`` defines it as the
connection ``warehouse`` through ``SLUICE_CONN_WAREHOUSE`` and empties it before the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import MetaData
from tests.integrations.storage.conftest import moto_endpoint  # noqa: F401  (an S3 server)
from tests.runner.conftest import stored  # noqa: F401  (a real task runner on the store)
from tests.store_backends import BACKENDS, backend_url, new_database
from tests.web.conftest import password_hash, web  # noqa: F401  (the web app, its users)

from sluice.integrations.connection import Connection
from sluice.integrations.lookup import connection_env_name
from sluice.integrations.sql.hook import SqlHook, connection_url


@dataclass(frozen=True)
class SqlConn:
    """A connection to an empty database of one backend."""

    conn_id: str
    backend: str
    """``sqlite``, ``postgresql`` or ``mysql``."""
    uri: str
    """The connection's URI (what ``SLUICE_CONN_<ID>`` holds)."""

    @property
    def marker(self) -> str:
        """The driver's positional parameter marker."""
        return "?" if self.backend == "sqlite" else "%s"

    def hook(self) -> SqlHook:
        """A new hook on the connection."""
        return SqlHook(self.conn_id)


@pytest.fixture(scope="session", params=BACKENDS)
def data_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A new, empty database of ``request.param``'s backend for this session (a
    connection URI, as ``SLUICE_CONN_<ID>`` holds it)."""
    backend: str = request.param
    folder = tmp_path_factory.mktemp(f"data-{backend}")
    url = backend_url(backend, folder)
    if backend == "sqlite":
        yield "sqlite://" + str(folder / "warehouse.db").replace("/", "%2F")
        return
    with new_database(backend, url, "sluice_data") as created:
        yield created


@pytest.fixture
def sql_conn(data_url: str, monkeypatch: pytest.MonkeyPatch) -> SqlConn:
    """The connection ``warehouse`` (in the environment) to the session's data database,
    emptied of every table first."""
    conn = Connection.from_uri("warehouse", data_url)
    _drop_all_tables(connection_url(conn).render_as_string(hide_password=False))
    monkeypatch.setenv(connection_env_name("warehouse"), data_url)
    backend = {"sqlite": "sqlite", "postgres": "postgresql", "mysql": "mysql"}[conn.conn_type]
    return SqlConn("warehouse", backend, data_url)


def _drop_all_tables(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        metadata.drop_all(engine)
    finally:
        engine.dispose()
