"""The Test button of a connection: reach the system it names once, with a short timeout.

Databases (PostgreSQL, MySQL/MariaDB, SQLite) run ``SELECT 1``; HTTP connections make one
GET request. The answer is ``(ok, message)``; a message never holds the password, even
when a driver puts it in its error.
"""

from __future__ import annotations

import base64
import dataclasses
import sqlite3
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from sluice.core.secrets_names import MASK
from sluice.store.connections import ConnectionSecrets

TIMEOUT_SECONDS = 5
DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}
HTTP_TYPES = ("http", "https")


class StoredPasswordRefused(Exception):
    """The form asks to use the stored password towards another place than it is for."""


def with_stored_password(
    typed: ConnectionSecrets, stored: ConnectionSecrets | None
) -> ConnectionSecrets:
    """The connection as typed, with the stored password when none was typed.

    The stored password goes only where it is stored for: same type, host, port, schema
    and login. Otherwise someone who may edit the form but not read the password could
    have it sent to a server of theirs.
    """
    if typed.password or stored is None or not stored.password:
        return typed
    where = ("conn_type", "host", "port", "schema", "login")
    changed = [name for name in where if getattr(typed, name) != getattr(stored, name)]
    if changed:
        raise StoredPasswordRefused(
            f"the stored password is only sent to the stored {', '.join(changed)}; type the"
            " password to test the changed connection"
        )
    return dataclasses.replace(typed, password=stored.password)


def try_connection(conn: ConnectionSecrets) -> tuple[bool, str]:
    """Whether the connection works, and a sentence saying what happened."""
    kind = conn.conn_type.strip().lower()
    try:
        if kind in DRIVERS:
            ok, message = _try_database(conn, DRIVERS[kind])
        elif kind == "sqlite":
            ok, message = _try_sqlite(conn)
        elif kind in HTTP_TYPES:
            ok, message = _try_http(conn, kind)
        else:
            ok, message = False, f"testing is not supported for conn type {conn.conn_type!r}"
    except Exception as exc:  # the button reports every failure; it never raises
        ok, message = False, f"{type(exc).__name__}: {exc}"
    return ok, _hide(message, conn.password)


def _hide(message: str, password: str | None) -> str:
    if password:
        for form in {password, quote(password, safe=""), quote(password)}:
            message = message.replace(form, MASK)
    return message


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _try_database(conn: ConnectionSecrets, driver: str) -> tuple[bool, str]:
    if not conn.host:
        return False, "the connection has no host"
    url = URL.create(
        driver,
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host,
        port=conn.port,
        database=conn.schema or None,
    )
    connect_args: dict[str, Any] = {"connect_timeout": TIMEOUT_SECONDS}
    engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    where = f"{conn.host}:{conn.port}" if conn.port else conn.host
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        return False, f"cannot connect to {where}: {_first_line(cause)}"
    finally:
        engine.dispose()
    return True, f"connected to {where} and ran SELECT 1"


def _try_sqlite(conn: ConnectionSecrets) -> tuple[bool, str]:
    # Airflow keeps a SQLite database's path in host; schema is accepted too.
    name = conn.host or conn.schema
    if not name:
        return False, "the connection names no database file (put its path in host)"
    path = Path(name).expanduser()
    if not path.is_file():
        return False, f"no database file at {path}"
    # Read-only: testing never creates or changes a database.
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=TIMEOUT_SECONDS)) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        return False, f"cannot read {path}: {exc}"
    return True, f"opened {path} and read its schema"


def http_url(conn: ConnectionSecrets, kind: str) -> str:
    """The URL an HTTP connection points at (host may be a whole URL)."""
    host = (conn.host or "").strip()
    if "://" in host:
        return host
    # As Airflow's HttpHook: schema, when set, is the scheme.
    scheme = conn.schema if conn.schema in HTTP_TYPES else kind
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}"


def _try_http(conn: ConnectionSecrets, kind: str) -> tuple[bool, str]:
    if not conn.host:
        return False, "the connection has no host"
    url = http_url(conn, kind)
    if urlsplit(url).scheme not in HTTP_TYPES or not urlsplit(url).hostname:
        return False, f"{url!r} is not an http or https URL"
    request = urllib.request.Request(url, method="GET")
    if conn.login:
        pair = f"{conn.login}:{conn.password or ''}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return False, f"GET {url} answered HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return False, f"cannot reach {url}: {reason}"
    return True, f"GET {url} answered HTTP {status}"
