"""The Test button of connections: real PostgreSQL and MariaDB servers when enabled, a
SQLite file, an unreachable port, and a local HTTP server."""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from tests.web.conftest import Web

from sluice.api.connection_test import try_connection
from sluice.store.connections import ConnectionSecrets

WRONG = "wrong-Pa55word"


def conn(conn_type: str, **fields: Any) -> ConnectionSecrets:
    values: dict[str, Any] = {"host": None, "schema": None, "login": None, "password": None,
                              "port": None, "extra": None}  # fmt: skip
    values.update(fields)
    return ConnectionSecrets(conn_id="c", conn_type=conn_type, **values)


def server(variable: str) -> Any:
    url = os.environ.get(variable)
    if not url:
        pytest.skip(f"no server to test against: set {variable} to enable this test")
    return make_url(url)


def test_postgres_select_1() -> None:
    url = server("SLUICE_TEST_POSTGRES_URL")
    ok, message = try_connection(
        conn(
            "postgres",
            host=url.host,
            port=url.port,
            login=url.username,
            password=url.password,
            schema=url.database,
        )
    )
    assert ok, message
    assert message == f"connected to {url.host}:{url.port} and ran SELECT 1"


def test_postgres_unknown_database_fails_clearly() -> None:
    url = server("SLUICE_TEST_POSTGRES_URL")
    ok, message = try_connection(
        conn(
            "postgresql",
            host=url.host,
            port=url.port,
            login=url.username,
            schema="no_such_db_xyz",
            password=WRONG,
        )
    )
    assert not ok
    assert message.startswith(f"cannot connect to {url.host}:{url.port}: ")
    assert "no_such_db_xyz" in message and WRONG not in message


def test_mysql_select_1() -> None:
    url = server("SLUICE_TEST_MYSQL_URL")
    ok, message = try_connection(
        conn(
            "mysql",
            host=url.host,
            port=url.port,
            login=url.username,
            password=url.password,
            schema=url.database,
        )
    )
    assert ok, message
    assert "ran SELECT 1" in message


def test_mysql_wrong_password_is_masked() -> None:
    url = server("SLUICE_TEST_MYSQL_URL")
    ok, message = try_connection(
        conn("mariadb", host=url.host, port=url.port, login="nobody_xyz", password=WRONG)
    )
    assert not ok
    assert message.startswith("cannot connect to") and WRONG not in message


def closed_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("conn_type", ["postgres", "mysql"])
def test_nothing_listening_fails_clearly(conn_type: str) -> None:
    port = closed_port()
    ok, message = try_connection(conn(conn_type, host="127.0.0.1", port=port, password=WRONG))
    assert not ok
    assert message.startswith(f"cannot connect to 127.0.0.1:{port}: ")
    assert WRONG not in message


def test_driver_error_holding_the_password_is_masked() -> None:
    # A host name made of the password: the driver's error repeats it.
    ok, message = try_connection(conn("postgres", host=f"{WRONG}.invalid", password=WRONG))
    assert not ok
    assert WRONG not in message and "***" in message


def test_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE t (x)")
    ok, message = try_connection(conn("sqlite", host=str(path)))
    assert ok, message
    assert message == f"opened {path} and read its schema"


def test_sqlite_missing_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    ok, message = try_connection(conn("sqlite", host=str(path)))
    assert (ok, message) == (False, f"no database file at {path}")
    assert not path.exists()
    directory = try_connection(conn("sqlite", host=str(tmp_path)))
    assert directory == (False, f"no database file at {tmp_path}")


def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a database at all" * 50)
    ok, message = try_connection(conn("sqlite", host=str(path)))
    assert not ok
    assert message.startswith(f"cannot read {path}: ")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/" else 404)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield int(httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_http_get(http_port: int) -> None:
    ok, message = try_connection(conn("http", host="127.0.0.1", port=http_port))
    assert (ok, message) == (True, f"GET http://127.0.0.1:{http_port} answered HTTP 200")


def test_http_error_status_and_whole_url(http_port: int) -> None:
    url = f"http://127.0.0.1:{http_port}/missing"
    ok, message = try_connection(conn("http", host=url, login="u", password=WRONG))
    assert (ok, message) == (False, f"GET {url} answered HTTP 404 Not Found")


def test_http_nothing_listening() -> None:
    port = closed_port()
    ok, message = try_connection(conn("http", host="127.0.0.1", port=port))
    assert not ok
    assert message.startswith(f"cannot reach http://127.0.0.1:{port}: ")


def test_http_refuses_other_schemes() -> None:
    ok, message = try_connection(conn("http", host="file:///etc/passwd"))
    assert (ok, message) == (False, "'file:///etc/passwd' is not an http or https URL")


def test_unsupported_type() -> None:
    assert try_connection(conn("smtp", host="mail")) == (
        False,
        "testing is not supported for conn type 'smtp'",
    )


def test_test_button_on_the_edit_page_uses_the_stored_password(web: Web, http_port: int) -> None:
    client = web.client("Op")
    client.submit("/connections/new", {"conn_id": "site", "conn_type": "http",
                                       "host": "127.0.0.1", "port": str(http_port),
                                       "login": "u", "password": WRONG})  # fmt: skip
    fragment = client.submit(
        "/connections/test",
        {"conn_id": "site", "conn_type": "http", "host": "127.0.0.1", "port": str(http_port),
         "login": "u", "password": ""},
        headers={"HX-Request": "true"},
    )  # fmt: skip
    assert fragment.status_code == 200
    assert 'class="conn-test ok"' in fragment.text
    assert "answered HTTP 200" in fragment.text
    bad = client.submit("/connections/test", {"conn_type": "http", "host": "127.0.0.1",
                                              "port": "x"})  # fmt: skip
    assert 'class="conn-test fail"' in bad.text and "port must be a number" in bad.text
    viewer = web.client("User")
    assert viewer.submit("/connections/test", {"conn_type": "http"}).status_code == 403


def test_the_stored_password_goes_only_where_it_is_stored_for(web: Web, http_port: int) -> None:
    client = web.client("Op")
    client.submit("/connections/new", {"conn_id": "site", "conn_type": "http",
                                       "host": "127.0.0.1", "port": str(http_port),
                                       "login": "u", "password": WRONG})  # fmt: skip
    elsewhere = {"conn_id": "site", "conn_type": "http", "host": "localhost",
                 "port": str(http_port), "login": "u", "password": ""}  # fmt: skip
    page = client.submit("/connections/test", elsewhere)
    assert 'class="conn-test fail"' in page.text
    assert "the stored password is only sent to the stored host" in page.text
    api = web.api("Op").post("/api/v1/connections/test", json=elsewhere | {"port": http_port})
    assert api.status_code == 400
    assert api.json()["detail"] == (
        "the stored password is only sent to the stored host; type the password to test"
        " the changed connection"
    )
    typed = client.submit("/connections/test", elsewhere | {"password": "typed-password"})
    assert 'class="conn-test ok"' in typed.text
