"""HttpHook against a real local server: the URL from the connection, auth, headers from
the extra, GET query vs body, errors, retries and timeouts."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys

import pytest
from tests.integrations.http.conftest import Recorder, set_connection

from sluice.integrations.connection import Connection
from sluice.integrations.errors import ConnectionNotFound
from sluice.integrations.http import (
    HttpHook,
    HttpHookError,
    HttpRequestError,
    HttpStatusError,
    RetryPolicy,
)
from sluice.integrations.http.hook import base_url_of, url_from_endpoint


@pytest.mark.parametrize(
    ("host", "schema", "port", "expected"),
    [
        ("api.example.com", None, None, "http://api.example.com"),
        ("api.example.com", "https", None, "https://api.example.com"),
        ("api.example.com", "https", 8443, "https://api.example.com:8443"),
        ("https://api.example.com", "http", None, "https://api.example.com"),
        ("https://api.example.com", None, 8443, "https://api.example.com:8443"),
        ("https://api.example.com/v2", None, 8443, "https://api.example.com:8443/v2"),
        ("https://api.example.com:9000/v2", None, 8443, "https://api.example.com:9000/v2"),
        (None, "https", None, "https://"),
    ],
)
def test_base_url_follows_airflows_rules(
    host: str | None, schema: str | None, port: int | None, expected: str
) -> None:
    conn = Connection("api", "http", host=host, schema=schema, port=port)
    assert base_url_of(conn) == expected


@pytest.mark.parametrize(
    ("base", "endpoint", "expected"),
    [
        ("http://h", "v1/items", "http://h/v1/items"),
        ("http://h/", "v1/items", "http://h/v1/items"),
        ("http://h", "/v1/items", "http://h/v1/items"),
        ("http://h/", "/v1/items", "http://h//v1/items"),  # as Airflow: joined as written
        ("http://h", None, "http://h"),
        ("http://h", "", "http://h"),
        ("http://h/api", "?q=1", "http://h/api/?q=1"),
    ],
)
def test_endpoint_joins_the_base_url_as_in_airflow(
    base: str, endpoint: str | None, expected: str
) -> None:
    assert url_from_endpoint(base, endpoint) == expected


def test_get_sends_data_as_query_parameters(http_conn: Recorder) -> None:
    response = HttpHook(method="GET").run("echo/get", data={"q": "sluice", "n": "2"})
    assert response.status_code == 200
    (got,) = http_conn.to("/echo/get")
    assert (got.method, got.query, got.body) == ("GET", {"q": "sluice", "n": "2"}, b"")
    assert response.json()["query"] == {"q": "sluice", "n": "2"}


def test_post_sends_data_as_the_body(http_conn: Recorder) -> None:
    hook = HttpHook()  # POST, as Airflow's default
    hook.run("echo/form", data={"a": "1", "b": "x y"})
    hook.run("echo/raw", data='{"raw": true}', headers={"Content-Type": "application/json"})
    hook.run("echo/json", json={"k": [1, 2]})
    (form,) = http_conn.to("/echo/form")
    assert (form.method, form.query, form.body) == ("POST", {}, b"a=1&b=x+y")
    assert form.headers["Content-Type"] == "application/x-www-form-urlencoded"
    (raw,) = http_conn.to("/echo/raw")
    assert raw.json() == {"raw": True} and raw.headers["Content-Type"] == "application/json"
    (sent,) = http_conn.to("/echo/json")
    assert sent.json() == {"k": [1, 2]}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_every_method_is_sent_as_given(http_conn: Recorder, method: str) -> None:
    HttpHook(method=method.lower()).run(f"echo/method-{method}", data={"a": "1"})
    (got,) = http_conn.to(f"/echo/method-{method}")
    assert got.method == method
    # HEAD sends no data at all, as Airflow's hook.
    assert got.body == (b"" if method == "HEAD" else b"a=1")


def test_host_with_scheme_and_path_and_endpoint(
    http_server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(monkeypatch, "api", {"conn_type": "http", "host": f"{http_server.url}/base"})
    HttpHook(method="GET", http_conn_id="api").run("v1/items")
    assert [r.path for r in http_server.to("/base")] == ["/base/v1/items"]


def test_schema_and_port_from_the_connection_fields(
    http_server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(
        monkeypatch,
        "api",
        {"conn_type": "http", "host": "127.0.0.1", "schema": "http", "port": http_server.port},
    )
    hook = HttpHook(method="GET", http_conn_id="api")
    hook.run("/fields")
    assert hook.base_url == http_server.url
    assert len(http_server.to("/fields")) == 1


def test_login_and_password_are_sent_with_basic_auth(
    http_server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(monkeypatch, "api", f"http://ada:p%40ss%3Aword@127.0.0.1:{http_server.port}")
    HttpHook(method="GET", http_conn_id="api").run("echo/auth")
    (got,) = http_server.to("/echo/auth")
    assert got.headers["Authorization"] == "Basic " + base64.b64encode(b"ada:p@ss:word").decode()


def test_auth_type_replaces_basic_auth(
    http_server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from requests.auth import AuthBase

    class TokenAuth(AuthBase):
        def __init__(self, login: str, password: str) -> None:
            self.token = f"{login}-{password}"

        def __call__(self, request):  # type: ignore[no-untyped-def]
            request.headers["Authorization"] = f"Bearer {self.token}"
            return request

    set_connection(monkeypatch, "api", f"http://ada:secret@127.0.0.1:{http_server.port}")
    HttpHook(method="GET", http_conn_id="api", auth_type=TokenAuth).run("echo/token")
    (got,) = http_server.to("/echo/token")
    assert got.headers["Authorization"] == "Bearer ada-secret"


def test_extra_becomes_headers_except_request_options(
    http_server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = {"X-Api-Key": "k-123", "Accept": "text/csv", "timeout": "5", "verify": "false"}
    set_connection(
        monkeypatch,
        "api",
        {"conn_type": "http", "host": "127.0.0.1", "port": http_server.port, "extra": extra},
    )
    hook = HttpHook(method="GET", http_conn_id="api")
    hook.run("echo/extra", headers={"X-Call": "1"})
    (got,) = http_server.to("/echo/extra")
    assert got.headers["X-Api-Key"] == "k-123"
    assert got.headers["Accept"] == "text/csv"
    assert got.headers["X-Call"] == "1"
    assert "timeout" not in {k.lower() for k in got.headers}
    assert "verify" not in {k.lower() for k in got.headers}
    # A URI's extra is text: the options are read as requests takes them.
    assert hook.merged_extra == {"timeout": 5.0, "verify": False}


def test_an_error_status_raises_with_the_status_and_body(http_conn: Recorder) -> None:
    with pytest.raises(HttpStatusError) as info:
        HttpHook(method="GET").run("missing", data={"api_key": "do-not-show"})
    error = info.value
    assert (error.status_code, error.reason, error.body) == (404, "Not Found", "not found here")
    assert str(error) == (
        f"connection 'http_default': GET {http_conn.url}/missing answered 404 Not Found:"
        " not found here"
    )
    assert "do-not-show" not in str(error)


def test_check_response_false_returns_the_error_response(http_conn: Recorder) -> None:
    response = HttpHook(method="GET").run("status/503", extra_options={"check_response": False})
    assert (response.status_code, response.text) == (503, "status 503")


def test_check_response_false_in_the_connection_extra(
    http_server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(monkeypatch, "api", f"{http_server.url}?check_response=false")
    response = HttpHook(method="GET", http_conn_id="api").run("status/418")
    assert response.status_code == 418


def test_run_with_advanced_retry_retries_5xx_until_it_succeeds(
    http_conn: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    hook = HttpHook(method="GET")
    with caplog.at_level(logging.WARNING, logger="sluice.task"):
        response = hook.run_with_advanced_retry(
            {"retry_limit": 3, "retry_delay": 0}, "flaky/hook-adv/2"
        )
    assert response.text == "recovered"
    assert len(http_conn.to("/flaky/hook-adv")) == 3
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2 and retries[0].endswith("retry 1 of 3 in 0 s")


def test_retries_in_extra_options_give_up_after_the_limit(http_conn: Recorder) -> None:
    with pytest.raises(HttpStatusError) as info:
        HttpHook(method="GET").run(
            "flaky/hook-limit/5", extra_options={"retry_limit": 2, "retry_delay": 0}
        )
    assert info.value.status_code == 500
    assert len(http_conn.to("/flaky/hook-limit")) == 3


def test_a_4xx_is_not_retried(http_conn: Recorder) -> None:
    with pytest.raises(HttpStatusError):
        HttpHook(method="GET").run_with_advanced_retry(
            {"retry_limit": 3, "retry_delay": 0}, "status/400"
        )
    assert len(http_conn.to("/status/400")) == 1


def test_a_refused_connection_is_retried_then_named(
    closed_port: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    set_connection(monkeypatch, "down", f"http://127.0.0.1:{closed_port}")
    with (
        caplog.at_level(logging.WARNING, logger="sluice.task"),
        pytest.raises(HttpRequestError) as info,
    ):
        HttpHook(http_conn_id="down").run_with_advanced_retry(
            {"retry_limit": 2, "retry_delay": 0}, "x"
        )
    assert str(info.value) == (
        f"connection 'down': POST http://127.0.0.1:{closed_port}/x failed: cannot connect:"
        " Connection refused"
    )
    assert len([r for r in caplog.records if "retry" in r.getMessage()]) == 2


def test_a_slow_server_times_out(http_conn: Recorder) -> None:
    with pytest.raises(HttpRequestError) as info:
        HttpHook(method="GET").run("slow", extra_options={"timeout": 0.2})
    assert str(info.value) == (
        f"connection 'http_default': GET {http_conn.url}/slow got no answer within 0.2 s"
        " (extra_options timeout)"
    )


def test_retry_policy_doubles_its_delay_up_to_the_cap() -> None:
    policy = RetryPolicy.from_args({"retry_delay": 1, "max_retry_delay": 5}, "here")
    assert policy.retry_limit == 3
    assert [policy.delay(n) for n in (1, 2, 3, 4, 2000)] == [1.0, 2.0, 4.0, 5.0, 5.0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"stop": 3}, "unknown retry argument(s) stop"),
        ({"retry_limit": -1}, "retry_limit must be an integer >= 0, got -1"),
        ({"retry_limit": "3"}, "retry_limit must be an integer >= 0, got '3'"),
        ({"retry_delay": "soon"}, "retry_delay must be a number of seconds >= 0"),
    ],
)
def test_bad_retry_arguments_are_named(args: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=r"^connection 'http_default': .*") as info:
        HttpHook().run_with_advanced_retry(args, "x")
    assert message in str(info.value)


def test_test_connection_reports_both_ways(
    http_conn: Recorder, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    assert HttpHook(method="GET").test_connection() == (True, "Connection successfully tested")
    set_connection(monkeypatch, "down", f"http://127.0.0.1:{closed_port}")
    ok, message = HttpHook(http_conn_id="down").test_connection()
    assert not ok and "Connection refused" in message


# -- bad inputs ----------------------------------------------------------------------


def test_a_missing_connection_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLUICE_CONN_NOWHERE", raising=False)
    with pytest.raises(ConnectionNotFound, match="connection 'nowhere' is not defined"):
        HttpHook(http_conn_id="nowhere").run("x")


def test_a_bad_method_is_refused() -> None:
    with pytest.raises(ValueError) as info:
        HttpHook(method="FETCH", http_conn_id="api")
    assert str(info.value) == (
        "HttpHook (connection 'api'): method must be one of GET, POST, PUT, PATCH, DELETE,"
        " HEAD, OPTIONS, got 'FETCH'"
    )


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        ({"conn_type": "http"}, "has no host: set the connection's host"),
        ({"conn_type": "http", "host": "ftp://files.example.com"}, "is not an http or https URL"),
        ({"conn_type": "http", "host": "h.example.com", "schema": "gopher"}, "not an http or"),
        ({"conn_type": "http", "host": "http://h.example.com:port/"}, "is not a valid URL"),
    ],
)
def test_a_bad_url_is_named(
    monkeypatch: pytest.MonkeyPatch, conn: dict[str, object], message: str
) -> None:
    set_connection(monkeypatch, "bad", conn)
    with pytest.raises(HttpHookError, match=r"^connection 'bad'") as info:
        HttpHook(http_conn_id="bad").run("x")
    assert message in str(info.value)


def test_an_extra_that_cannot_be_a_header_is_named(
    http_server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(
        monkeypatch, "api", {"conn_type": "http", "host": "127.0.0.1", "extra": {"retries": 3}}
    )
    with pytest.raises(HttpHookError) as info:
        HttpHook(http_conn_id="api").run("x")
    assert str(info.value) == (
        "connection 'api': extra 'retries' is sent as an HTTP header, so it must be text, not 3"
    )


def test_a_bad_timeout_is_named(http_conn: Recorder) -> None:
    with pytest.raises(HttpHookError, match="timeout must be a number of seconds > 0"):
        HttpHook(method="GET").run("json", extra_options={"timeout": "soon"})


def test_importing_the_http_package_does_not_import_requests() -> None:
    code = (
        "import sys, sluice.integrations.http, sluice.integrations.slack,"
        " sluice.integrations.notifiers\n"
        "print(sorted(m for m in ('requests', 'urllib3', 'sqlalchemy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_tcp_keep_alive_is_set_on_the_sockets_unless_turned_off(http_conn: Recorder) -> None:
    import socket

    session = HttpHook(tcp_keep_alive_idle=60).get_conn()
    try:
        options = session.get_adapter(http_conn.url).poolmanager.connection_pool_kw.get(
            "socket_options", []
        )
    finally:
        session.close()
    assert (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1) in options
    assert (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 60) in options
    session = HttpHook(tcp_keep_alive=False).get_conn()
    try:
        plain = session.get_adapter(http_conn.url).poolmanager.connection_pool_kw
    finally:
        session.close()
    assert "socket_options" not in plain


def test_a_body_that_cannot_be_sent_is_named(http_conn: Recorder) -> None:
    with pytest.raises(HttpHookError) as info:
        HttpHook().run("echo/never", json={"when": object()})
    assert str(info.value).startswith(
        f"connection 'http_default': cannot build the request to {http_conn.url}/echo/never: "
    )
    assert http_conn.to("/echo/never") == []
