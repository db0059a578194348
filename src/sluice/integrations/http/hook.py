"""``HttpHook``: requests to the base URL an HTTP connection describes, as Airflow's.

The connection gives the base URL: ``host`` is either a whole URL (``https://api.example.com``)
or a host name, then ``schema`` is the scheme (``http`` when empty) and ``port`` is added.
``login``/``password`` are sent with basic auth (or ``auth_type``); the connection's extra is
sent as headers, except the request options Airflow reads from it (``timeout``, ``verify``,
``proxies``, ``stream``, ``cert``, ``allow_redirects``, ``max_redirects``, ``trust_env``,
``check_response``).

``requests`` is imported when the hook first sends something: a DAG file that builds HTTP
operators imports nothing heavy.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from sluice.integrations.connection import Connection
from sluice.integrations.errors import IntegrationError
from sluice.integrations.hooks.base import BaseHook

if TYPE_CHECKING:
    from requests import PreparedRequest, Response, Session
    from requests.adapters import HTTPAdapter

log = logging.getLogger("sluice.task")

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
"""The request methods the hook sends."""

REQUEST_OPTIONS = (
    "stream", "cert", "proxies", "proxy", "timeout", "verify", "verify_ssl", "allow_redirects",
    "max_redirects", "trust_env", "check_response",
)  # fmt: skip
"""Keys of a connection's extra that are request options, not headers (as Airflow)."""

RETRY_OPTIONS = ("retry_limit", "retry_delay", "max_retry_delay")
"""Sluice's retry settings, in ``extra_options`` or ``_retry_args``."""

BODY_EXCERPT = 500
"""How much of a failed response's body an error message shows."""

_BOOL_OPTIONS = ("stream", "verify", "verify_ssl", "allow_redirects", "trust_env", "check_response")


class HttpHookError(IntegrationError):
    """Raised when a request cannot be built from the connection and the arguments."""


class HttpRequestError(HttpHookError):
    """Raised when the server cannot be reached or does not answer in time."""


class HttpStatusError(HttpHookError):
    """Raised when the server answers with a 4xx or 5xx status."""

    def __init__(self, message: str, *, status_code: int, reason: str, body: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.reason = reason
        self.body = body


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is tried again after a transient failure.

    A refused or dropped connection, a timeout, a 429 and a 5xx answer are transient;
    the wait before retry ``n`` is ``retry_delay * 2**(n-1)`` seconds, at most
    ``max_retry_delay``.
    """

    retry_limit: int = 3
    """Retries after the first try (so ``retry_limit + 1`` requests at most)."""
    retry_delay: float = 1.0
    max_retry_delay: float = 60.0

    @classmethod
    def from_args(cls, args: Mapping[str, Any], where: str) -> RetryPolicy:
        """The policy ``args`` describe (keys of :data:`RETRY_OPTIONS`); ValueError naming
        ``where`` for anything else, such as tenacity's ``stop``/``wait`` objects."""
        unknown = sorted(set(args) - set(RETRY_OPTIONS))
        if unknown:
            raise ValueError(
                f"{where}: unknown retry argument(s) {', '.join(unknown)}; Sluice retries with "
                f"{', '.join(RETRY_OPTIONS)} (tenacity's objects are not used)"
            )
        limit = args.get("retry_limit", 3)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"{where}: retry_limit must be an integer >= 0, got {limit!r}")
        delays = {}
        for name in ("retry_delay", "max_retry_delay"):
            value = args.get(name, getattr(cls, name))
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{where}: {name} must be a number of seconds >= 0, got {value!r}")
            delays[name] = float(value)
        return cls(limit, delays["retry_delay"], delays["max_retry_delay"])

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first retry)."""
        try:
            backoff = self.retry_delay * 2.0 ** (retry_number - 1)
        except OverflowError:
            backoff = math.inf
        return min(backoff, self.max_retry_delay)


def is_transient(error: BaseException) -> bool:
    """Whether a request that failed with ``error`` may succeed when tried again."""
    if isinstance(error, HttpStatusError):
        return error.status_code == 429 or error.status_code >= 500
    return isinstance(error, HttpRequestError)


def url_from_endpoint(base_url: str | None, endpoint: str | None) -> str:
    """The base URL and the endpoint joined with exactly the slash Airflow puts between them
    (one only when neither side has it)."""
    if base_url and not base_url.endswith("/") and endpoint and not endpoint.startswith("/"):
        return f"{base_url}/{endpoint}"
    return (base_url or "") + (endpoint or "")


def base_url_of(connection: Connection, default_host: str = "") -> str:
    """The base URL a connection describes, by Airflow's rules: a ``host`` holding ``://``
    is the URL, else ``schema`` (``http`` when empty) ``://`` host; the port goes after the
    host name."""
    host = connection.host or default_host
    base_url = host if "://" in host else f"{connection.schema or 'http'}://{host}"
    if connection.port:
        # Airflow appends ``:port`` to the whole string; put it after the host name, so
        # that a host with a path (https://example.com/api) still gives a valid URL.
        parts = urlsplit(base_url)
        if parts.port is None:
            netloc = f"{parts.netloc}:{connection.port}"
            base_url = urlunsplit(parts._replace(netloc=netloc))
    return base_url


def _coerce_option(conn_id: str, name: str, value: Any) -> Any:
    """An option from a connection's extra as requests takes it (a URI's extra is text)."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if name in _BOOL_OPTIONS and text in ("true", "false"):
        return text == "true"
    if name in ("timeout", "max_redirects"):
        try:
            number = float(text)
        except ValueError:
            raise HttpHookError(
                f"connection '{conn_id}': extra '{name}' must be a number, not {value!r}"
            ) from None
        return int(number) if name == "max_redirects" else number
    return value


def split_extra(connection: Connection, extra_options: Mapping[str, Any]) -> tuple[
    dict[str, Any], dict[str, Any]
]:  # fmt: skip
    """The connection's extra split into headers and request options; ``extra_options``
    win over the options the connection gives."""
    headers = dict(connection.extra_dejson)
    options = dict(extra_options)
    for name in REQUEST_OPTIONS:
        if name not in headers:
            continue
        value = _coerce_option(connection.conn_id, name, headers.pop(name))
        # Airflow's aliases: proxy for proxies, verify_ssl for verify.
        key = {"proxy": "proxies", "verify_ssl": "verify"}.get(name, name)
        options.setdefault(key, value)
    for name, value in headers.items():
        if not isinstance(value, str | bytes):
            raise HttpHookError(
                f"connection '{connection.conn_id}': extra '{name}' is sent as an HTTP header,"
                f" so it must be text, not {value!r}"
            )
    return headers, options


class HttpHook(BaseHook):
    """Sends requests to the base URL of an HTTP connection (Airflow's ``HttpHook``).

    Args:
        method: the request method; GET sends ``data`` as query parameters, HEAD sends
            none, the others send it as the body.
        http_conn_id: the connection with the base URL, credentials and default headers.
        auth_type: a ``requests`` auth class called with ``(login, password)`` (basic auth
            when not given and the connection has a login), or without arguments when
            the connection has no login.
        tcp_keep_alive: send TCP keep-alive probes on idle connections (long requests
            through firewalls that drop silent connections).
    """

    conn_name_attr = "http_conn_id"
    default_conn_name = "http_default"
    conn_type = "http"
    hook_name = "HTTP"
    default_host = ""
    default_headers: Mapping[str, str] = {}

    def __init__(
        self,
        method: str = "POST",
        http_conn_id: str = default_conn_name,
        auth_type: Any = None,
        tcp_keep_alive: bool = True,
        tcp_keep_alive_idle: int = 120,
        tcp_keep_alive_count: int = 20,
        tcp_keep_alive_interval: int = 30,
        adapter: HTTPAdapter | None = None,
    ) -> None:
        self.http_conn_id = http_conn_id
        self.method = check_method(method, f"HttpHook (connection '{http_conn_id}')")
        self.base_url = ""
        self._auth_type = auth_type
        self.adapter = adapter
        self.tcp_keep_alive = tcp_keep_alive and adapter is None
        self.keep_alive = (tcp_keep_alive_idle, tcp_keep_alive_count, tcp_keep_alive_interval)
        self.merged_extra: dict[str, Any] = {}
        """The request options of the last :meth:`get_conn`: the connection's extra, then
        ``extra_options`` over it."""

    @property
    def auth_type(self) -> Any:
        """The auth class: the one given, else ``requests.auth.HTTPBasicAuth``."""
        if self._auth_type is not None:
            return self._auth_type
        from requests.auth import HTTPBasicAuth

        return HTTPBasicAuth

    @auth_type.setter
    def auth_type(self, value: Any) -> None:
        self._auth_type = value

    # -- the session ------------------------------------------------------------------

    def get_conn(
        self,
        headers: Mapping[str, Any] | None = None,
        extra_options: Mapping[str, Any] | None = None,
    ) -> Session:
        """A ``requests.Session`` with the connection's auth, headers and options; sets
        :attr:`base_url` and :attr:`merged_extra`."""
        import requests
        from requests.models import DEFAULT_REDIRECT_LIMIT

        connection = self.get_connection(self.http_conn_id)
        if not (connection.host or self.default_host):
            # Airflow would send to "http://" + endpoint, taking the endpoint for a host.
            raise HttpHookError(
                f"connection '{self.http_conn_id}' has no host: set the connection's host"
                " (such as api.example.com or https://api.example.com)"
            )
        self.base_url = base_url_of(connection, self.default_host)
        conn_headers, options = split_extra(connection, extra_options or {})
        self.merged_extra = options
        session = requests.Session()
        session.auth = self._auth(connection)
        session.proxies = options.get("proxies") or {}
        session.stream = bool(options.get("stream", False))
        session.verify = options.get("verify", True)
        session.cert = options.get("cert")
        session.max_redirects = int(options.get("max_redirects", DEFAULT_REDIRECT_LIMIT))
        session.trust_env = bool(options.get("trust_env", True))
        session.headers.update(conn_headers)
        if self.adapter is not None:
            session.mount(f"{urlsplit(self.base_url).scheme}://", self.adapter)
        elif self.tcp_keep_alive:
            adapter = _keep_alive_adapter(*self.keep_alive)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        session.headers.update(self.default_headers)
        if headers:
            session.headers.update(headers)
        return session

    def _auth(self, connection: Connection) -> Any:
        if connection.login:
            return self.auth_type(connection.login, connection.password)
        if self._auth_type is not None:
            return self._auth_type()
        return None

    def url_from_endpoint(self, endpoint: str | None) -> str:
        """The base URL (of the last :meth:`get_conn`) and ``endpoint`` joined."""
        return url_from_endpoint(self.base_url, endpoint)

    # -- requests ---------------------------------------------------------------------

    def run(
        self,
        endpoint: str | None = None,
        data: Mapping[str, Any] | str | bytes | None = None,
        headers: Mapping[str, Any] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        **request_kwargs: Any,
    ) -> Response:
        """Send one request to the base URL joined with ``endpoint``; the response.

        ``data`` is the query of a GET and the body of the others (HEAD sends none);
        ``request_kwargs`` go to ``requests.Request`` (``json=``, ``files=``...).
        ``extra_options`` are requests' options (``timeout``, ``verify``...) and
        ``check_response`` (False: no error for a 4xx or 5xx answer); with
        ``retry_limit`` (and ``retry_delay``, ``max_retry_delay``) transient failures are
        tried again. Raises HttpStatusError for a 4xx/5xx answer, HttpRequestError when
        the server cannot be reached or is too slow.
        """
        options = dict(extra_options or {})
        retry_args = {k: options.pop(k) for k in RETRY_OPTIONS if k in options}
        if retry_args:
            policy = RetryPolicy.from_args(retry_args, self._where())
            return self.with_retries(
                policy, lambda: self._run_once(endpoint, data, headers, options, request_kwargs)
            )
        return self._run_once(endpoint, data, headers, options, request_kwargs)

    def run_with_advanced_retry(
        self, _retry_args: Mapping[str, Any], *args: Any, **kwargs: Any
    ) -> Response:
        """:meth:`run` with ``args`` and ``kwargs``, tried again on transient failures as
        ``_retry_args`` says (``retry_limit``, ``retry_delay``, ``max_retry_delay``)."""
        policy = RetryPolicy.from_args(_retry_args, self._where())
        return self.with_retries(policy, lambda: self.run(*args, **kwargs))

    def with_retries(self, policy: RetryPolicy, attempt: Callable[[], Response]) -> Response:
        """Call ``attempt`` until it returns, retrying transient failures per ``policy``."""
        retry = 0
        while True:
            try:
                return attempt()
            except HttpHookError as exc:
                if retry >= policy.retry_limit or not is_transient(exc):
                    raise
                retry += 1
                wait = policy.delay(retry)
                log.warning("%s; retry %d of %d in %.3g s", exc, retry, policy.retry_limit, wait)
                time.sleep(wait)

    def _run_once(
        self,
        endpoint: str | None,
        data: Mapping[str, Any] | str | bytes | None,
        headers: Mapping[str, Any] | None,
        extra_options: Mapping[str, Any],
        request_kwargs: Mapping[str, Any],
    ) -> Response:
        import requests

        session = self.get_conn(headers, extra_options)
        try:
            url = self.url_from_endpoint(endpoint)
            _check_url(url, self.http_conn_id)
            if self.method == "GET":
                request = requests.Request(
                    self.method, url, params=data, headers=headers, **request_kwargs
                )
            elif self.method == "HEAD":
                request = requests.Request(self.method, url, headers=headers, **request_kwargs)
            else:
                request = requests.Request(
                    self.method, url, data=data, headers=headers, **request_kwargs
                )
            try:
                prepared = session.prepare_request(request)
            except (requests.exceptions.RequestException, ValueError, TypeError) as exc:
                raise HttpHookError(
                    f"{self._where()}: cannot build the request to {_shown(url)}: {exc}"
                ) from exc
            log.debug("sending %s to %s", self.method, _shown(url))
            return self.run_and_check(session, prepared, self.merged_extra)
        finally:
            if not session.stream:
                # The body is read: the session's sockets can go (the response keeps it).
                session.close()

    def run_and_check(
        self, session: Session, prepped_request: PreparedRequest, extra_options: Mapping[str, Any]
    ) -> Response:
        """Send the prepared request with the options, then :meth:`check_response` unless
        ``check_response`` is False."""
        import requests

        settings = session.merge_environment_settings(
            prepped_request.url,
            proxies=session.proxies,
            stream=session.stream,
            verify=session.verify,
            cert=session.cert,
        )
        send_kwargs: dict[str, Any] = {
            "timeout": _timeout(extra_options.get("timeout"), self.http_conn_id),
            "allow_redirects": extra_options.get("allow_redirects", True),
            **settings,
        }
        where = f"{prepped_request.method} {_shown(prepped_request.url or '')}"
        try:
            response = session.send(prepped_request, **send_kwargs)
        except requests.exceptions.Timeout as exc:
            raise HttpRequestError(
                f"{self._where()}: {where} got no answer within {send_kwargs['timeout']} s"
                " (extra_options timeout)"
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            raise HttpRequestError(
                f"{self._where()}: {where} failed: cannot connect:"
                f" {connection_error_reason(exc) or exc}"
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise HttpHookError(f"{self._where()}: {where} failed: {exc}") from exc
        if extra_options.get("check_response", True):
            self.check_response(response)
        return response

    def check_response(self, response: Response) -> None:
        """Raise HttpStatusError, with the status and the start of the body, when the
        status is 4xx or 5xx."""
        if response.status_code < 400:
            return
        body = _excerpt(response)
        method = response.request.method if response.request is not None else self.method
        message = (
            f"{self._where()}: {method} {_shown(response.url)} answered "
            f"{response.status_code} {response.reason or ''}".rstrip()
        )
        if body:
            message += f": {body}"
        raise HttpStatusError(
            message, status_code=response.status_code, reason=response.reason or "", body=body
        )

    def test_connection(self) -> tuple[bool, str]:
        """Send a request to the base URL: (True, message) when it answers below 400, else
        (False, why)."""
        try:
            self.run()
        except Exception as exc:
            return False, str(exc)
        return True, "Connection successfully tested"

    def _where(self) -> str:
        return f"connection '{self.http_conn_id}'"


def check_method(method: object, where: str) -> str:
    """The request method in upper case; ValueError naming ``where`` if it is not one."""
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ValueError(f"{where}: method must be one of {', '.join(METHODS)}, got {method!r}")
    return method.upper()


def _check_url(url: str, conn_id: str) -> None:
    """HttpHookError when ``url`` is not an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise HttpHookError(f"connection '{conn_id}': {url!r} is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise HttpHookError(
            f"connection '{conn_id}': {_shown(url)} is not an http or https URL: set the"
            " connection's schema to http or https, or its host to a URL such as"
            " https://api.example.com"
        )
    if not parts.hostname:
        raise HttpHookError(
            f"connection '{conn_id}': {_shown(url)} has no host: set the connection's host"
            " (such as api.example.com or https://api.example.com)"
        )


def _timeout(value: Any, conn_id: str) -> Any:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return value
    pair = isinstance(value, tuple | list) and len(value) == 2
    if pair and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return tuple(value)
    raise HttpHookError(
        f"connection '{conn_id}': timeout must be a number of seconds > 0 or a (connect, read)"
        f" pair, not {value!r}"
    )


def _shown(url: str) -> str:
    """The URL for a message: without its query (which may hold a key) or user info."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return repr(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _excerpt(response: Response) -> str:
    try:
        text = response.text
    except Exception:  # a body that cannot be decoded says nothing useful
        return ""
    text = " ".join(text.split())
    return text if len(text) <= BODY_EXCERPT else text[:BODY_EXCERPT] + "..."


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def connection_error_reason(error: BaseException) -> str | None:
    """What went wrong under requests' and urllib3's wrapping (``Connection refused``), or
    None when it cannot be told without quoting the whole error (which holds the URL)."""
    text = str(error)
    if "Failed to resolve" in text or "Name or service not known" in text:
        return "the host name does not resolve"
    found = _ERRNO.search(text)
    return found.group(1).strip().rstrip(".") if found else None


def _keep_alive_adapter(idle: int, count: int, interval: int) -> HTTPAdapter:
    """An adapter whose sockets send TCP keep-alive probes (requests_toolbelt's, in short)."""
    import socket

    from urllib3.connection import HTTPConnection

    options = [*HTTPConnection.default_socket_options, (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (
        ("TCP_KEEPIDLE", idle),
        ("TCP_KEEPCNT", count),
        ("TCP_KEEPINTVL", interval),
    ):
        if hasattr(socket, name):  # Linux has all three; macOS lacks TCP_KEEPIDLE
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    adapter: HTTPAdapter = _keep_alive_adapter_class()(options)
    return adapter


@cache
def _keep_alive_adapter_class() -> Any:
    from requests.adapters import HTTPAdapter

    class KeepAliveAdapter(HTTPAdapter):
        """Opens its connections with the given socket options."""

        def __init__(self, socket_options: list[tuple[int, int, int]]) -> None:
            self.socket_options = socket_options
            super().__init__()

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["socket_options"] = self.socket_options
            super().init_poolmanager(*args, **kwargs)

    return KeepAliveAdapter
