"""A real HTTP server in a thread for the HTTP and Slack tests, recording what it is sent.

Paths (each test uses keys of its own, so tests sharing the server never see each
other's requests):

- ``/json``: 200 with a JSON document; ``/csv``: 200 with CSV text
- ``/missing``: 404; ``/status/<code>``: that status, its body ``status <code>``
- ``/flaky/<key>/<n>``: 500 the first ``n`` times for ``key``, then 200 ``recovered``
- ``/appear/<key>/<n>``: 404 the first ``n`` times for ``key``, then 200 JSON
- ``/slow``: answers only when the test session ends (to make a client time out)
- ``/slack/<token path>``: a Slack-like webhook: 200 ``ok`` for a message with text, blocks
  or attachments; 400 ``invalid_payload`` / ``no_text``; ``/slack/revoked/...`` 403
  ``invalid_token``; ``/slack/quirky/...`` 200 with a body that is not ``ok``
- anything else: 200 echoing the request as JSON
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

# The task runner's fixture, for the tests that run tasks through the database.
from tests.runner.conftest import stored  # noqa: F401

from sluice.integrations.lookup import connection_env_name


@dataclass(frozen=True)
class Received:
    """One request the server got."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class Recorder:
    """The server's address and everything it received."""

    port: int
    received: list[Received] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def to(self, path: str) -> list[Received]:
        """The requests whose path is ``path`` or starts with ``path/``, in order."""
        with self.lock:
            return [r for r in self.received if r.path == path or r.path.startswith(path + "/")]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test output stays clean

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        got = Received(
            self.command, parts.path, dict(parse_qsl(parts.query)), dict(self.headers), body
        )
        recorder = self.server.recorder
        with recorder.lock:
            recorder.received.append(got)
            recorder.counts[parts.path] += 1
            seen = recorder.counts[parts.path]
        status, content_type, payload = _answer(got, seen, recorder)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


def _answer(got: Received, seen: int, recorder: Recorder) -> tuple[int, str, bytes]:
    """Status, content type and body for a request (``seen``: how many to this path)."""
    path = got.path
    segments = path.strip("/").split("/")
    text = "text/plain; charset=utf-8"
    if path == "/json":
        return 200, "application/json", json.dumps({"status": "ok", "items": [1, 2, 3]}).encode()
    if path == "/csv":
        return 200, "text/csv; charset=utf-8", b"id,name\n1,ada\n2,grace\n"
    if path == "/missing":
        return 404, text, b"not found here"
    if segments[0] == "status" and len(segments) == 2:
        return int(segments[1]), text, f"status {segments[1]}".encode()
    if segments[0] == "flaky" and len(segments) == 3:
        if seen <= int(segments[2]):
            return 500, text, b"temporarily broken"
        return 200, text, b"recovered"
    if segments[0] == "appear" and len(segments) == 3:
        if seen <= int(segments[2]):
            return 404, text, b"not yet"
        return 200, "application/json", json.dumps({"ready": True, "after": seen}).encode()
    if path == "/slow":
        recorder.release.wait(30)
        return 200, text, b"too late"
    if segments[0] == "slack":
        return _slack(got, segments[1:])
    echo = {
        "method": got.method,
        "path": got.path,
        "query": got.query,
        "headers": got.headers,
        "body": got.body.decode("utf-8", "replace"),
    }
    return 200, "application/json", json.dumps(echo).encode()


def _slack(got: Received, token: list[str]) -> tuple[int, str, bytes]:
    """What Slack's webhook endpoint answers."""
    text = "text/html"
    if token[:1] == ["revoked"]:
        return 403, text, b"invalid_token"
    try:
        message = json.loads(got.body)
    except ValueError:
        return 400, text, b"invalid_payload"
    if not isinstance(message, dict) or not any(
        message.get(k) for k in ("text", "blocks", "attachments")
    ):
        return 400, text, b"no_text"
    if token[:1] == ["quirky"]:
        return 200, text, b"maybe"
    return 200, text, b"ok"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    recorder: Recorder

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (the timeout test) closes its socket under the handler.
        pass


@pytest.fixture(scope="session")
def http_server() -> Iterator[Recorder]:
    """The server, running for the whole session."""
    server = _Server(("127.0.0.1", 0), _Handler)
    recorder = Recorder(port=server.server_address[1])
    server.recorder = recorder
    thread = threading.Thread(target=server.serve_forever, name="test-http-server", daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        recorder.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def http_conn(http_server: Recorder, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """The connection ``http_default`` (in the environment) to the test server."""
    monkeypatch.setenv(connection_env_name("http_default"), http_server.url)
    return http_server


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (a connection to it is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def set_connection(
    monkeypatch: pytest.MonkeyPatch, conn_id: str, value: str | dict[str, Any]
) -> None:
    """Define ``conn_id`` in the environment, as a URI or Airflow's JSON form."""
    text = value if isinstance(value, str) else json.dumps(value)
    monkeypatch.setenv(connection_env_name(conn_id), text)
