"""A connection as DAG code uses it, and Airflow's two text forms of one: a URI and JSON.

URI form (as Airflow's ``Connection.get_uri``)::

    postgresql://user:pa%40ss@db.example.com:5432/warehouse?sslmode=disable

The scheme is the connection type (``postgresql`` means ``postgres``; ``-`` stands for
``_``), login and password are percent-encoded, the path is the schema, and the query
parameters are the extra (or ``__extra__=`` holds the whole extra JSON when it is not a
flat object of strings). A host that is itself a URL keeps its scheme after the type's:
``http://https://login:password@api.example.com``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from sluice.integrations.errors import ConnectionDefinitionError

EXTRA_KEY = "__extra__"
JSON_FIELDS = ("conn_type", "description", "host", "login", "password", "schema", "port", "extra")
_TYPE_ALIASES = {"postgresql": "postgres"}


def normalize_conn_type(scheme: str) -> str:
    """The connection type a URI scheme names, as Airflow reads it."""
    kind = scheme.replace("-", "_")
    return _TYPE_ALIASES.get(kind, kind)


@dataclass
class Connection:
    """How a task reaches an outside system: host, login, password, port, schema, extra."""

    conn_id: str
    conn_type: str
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    port: int | None = None
    extra: str | None = None
    description: str | None = None

    @property
    def extra_dejson(self) -> dict[str, Any]:
        """The extra as a dict (empty when there is none or it is not a JSON object)."""
        if not self.extra:
            return {}
        try:
            loaded = json.loads(self.extra)
        except json.JSONDecodeError:
            return {}
        return loaded if isinstance(loaded, dict) else {}

    # -- the URI form ----------------------------------------------------------------

    @classmethod
    def from_uri(cls, conn_id: str, uri: str) -> Connection:
        """The connection a URI describes; ConnectionDefinitionError if the URI is bad."""
        text = uri.strip()
        schemes = text.count("://")
        if schemes == 0:
            raise ConnectionDefinitionError(
                f"connection '{conn_id}': {_shown(text)} is not a connection URI: it needs a"
                " scheme naming the type, such as postgresql://user:pass@host:5432/db"
            )
        if schemes > 2:
            raise ConnectionDefinitionError(
                f"connection '{conn_id}': {_shown(text)} holds '://' more than twice"
            )
        scheme, rest = text.split("://", 1)
        if not scheme:
            raise ConnectionDefinitionError(
                f"connection '{conn_id}': {_shown(text)} has an empty scheme; start it with the"
                " connection type, such as postgresql://"
            )
        protocol = None
        if schemes == 2:
            # The host is itself a URL (http://https://example.com): keep its scheme.
            protocol, rest = rest.split("://", 1)
            if "@" in protocol or ":" in protocol:
                raise ConnectionDefinitionError(
                    f"connection '{conn_id}': in {_shown(text)} the host is a URL, so the login"
                    " and password go after its scheme: type://scheme://login:password@host"
                )
        parts = urlsplit("//" + rest)
        try:
            port = parts.port
        except ValueError:
            raise ConnectionDefinitionError(
                f"connection '{conn_id}': the port of {_shown(text)} must be a number from"
                " 1 to 65535"
            ) from None
        host = unquote(parts.hostname) if parts.hostname else None
        # urlsplit lowercases the host; Airflow keeps what was written.
        if host and parts.netloc:
            written = parts.netloc.rsplit("@", 1)[-1]
            written = written.rsplit(":", 1)[0] if port is not None else written
            if written.lower() == parts.hostname:
                host = unquote(written)
        if protocol and host:
            host = f"{protocol}://{host}"
        schema = unquote(parts.path[1:]) if parts.path[1:] else None
        extra = None
        if parts.query:
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            extra = query[EXTRA_KEY] if EXTRA_KEY in query else json.dumps(query)
        return cls(
            conn_id=conn_id,
            conn_type=normalize_conn_type(scheme),
            host=host or None,
            schema=schema,
            login=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            port=port,
            extra=extra,
        )

    def get_uri(self) -> str:
        """The connection as a URI that :meth:`from_uri` reads back into the same fields."""
        uri = f"{self.conn_type.lower().replace('_', '-')}://" if self.conn_type else "//"
        host = self.host or ""
        if "://" in host:
            protocol, host = host.split("://", 1)
            uri += f"{protocol}://"
        authority = ""
        if self.login is not None:
            authority += quote(self.login, safe="")
        if self.password is not None:
            authority += ":" + quote(self.password, safe="")
        if authority:
            uri += authority + "@"
        where = quote(host, safe="") if host else ""
        if self.port:
            where += f":{self.port}" if where or authority else f"@:{self.port}"
        if self.schema:
            where += "/" + quote(self.schema, safe="")
        uri += where
        if self.extra:
            uri += ("?" if self.schema else "/?") + self._extra_query()
        return uri

    def _extra_query(self) -> str:
        extra = self.extra_dejson
        flat = all(isinstance(v, str) for v in extra.values())
        if extra and flat and json.loads(self.extra or "null") == extra:
            query = urlencode(extra)
            if dict(parse_qsl(query, keep_blank_values=True)) == extra:
                return query
        return urlencode({EXTRA_KEY: self.extra})

    # -- the JSON form ---------------------------------------------------------------

    @classmethod
    def from_json(cls, conn_id: str, text: str) -> Connection:
        """The connection Airflow's JSON form describes; ConnectionDefinitionError if bad."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            message = f"connection '{conn_id}': not valid JSON: {exc}"
            raise ConnectionDefinitionError(message) from None
        return cls.from_dict(conn_id, data)

    @classmethod
    def from_dict(cls, conn_id: str, data: Any) -> Connection:
        """The connection a JSON object describes (``extra`` an object or text)."""
        if not isinstance(data, dict):
            raise ConnectionDefinitionError(
                f"connection '{conn_id}': the JSON form must be an object such as"
                ' {"conn_type": "postgres", "host": "..."}'
            )
        unknown = sorted(set(data) - set(JSON_FIELDS))
        if unknown:
            raise ConnectionDefinitionError(
                f"connection '{conn_id}': unknown fields {', '.join(unknown)}; the fields are"
                f" {', '.join(JSON_FIELDS)}"
            )
        for name in ("conn_type", "description", "host", "login", "password", "schema"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ConnectionDefinitionError(f"connection '{conn_id}': {name} must be text")
        if not data.get("conn_type"):
            raise ConnectionDefinitionError(f"connection '{conn_id}': conn_type is missing")
        extra = data.get("extra")
        if extra is not None and not isinstance(extra, str):
            extra = json.dumps(extra)
        return cls(
            conn_id=conn_id,
            conn_type=normalize_conn_type(data["conn_type"]),
            host=data.get("host") or None,
            schema=data.get("schema") or None,
            login=data.get("login") or None,
            password=data.get("password") or None,
            port=_port(conn_id, data.get("port")),
            extra=extra or None,
            description=data.get("description") or None,
        )

    def to_dict(self) -> dict[str, Any]:
        """Airflow's JSON form as a dict; ``extra`` is an object when it is JSON."""
        extra: Any = self.extra
        if self.extra:
            try:
                extra = json.loads(self.extra)
            except json.JSONDecodeError:
                extra = self.extra
        return {
            "conn_type": self.conn_type,
            "description": self.description,
            "host": self.host,
            "login": self.login,
            "password": self.password,
            "schema": self.schema,
            "port": self.port,
            "extra": extra,
        }

    def to_json(self) -> str:
        """Airflow's JSON form, which :meth:`from_json` reads back."""
        return json.dumps({k: v for k, v in self.to_dict().items() if v is not None})

    @classmethod
    def from_text(cls, conn_id: str, text: str) -> Connection:
        """A connection from an environment variable: JSON when it starts with ``{``, else
        a URI."""
        if text.lstrip().startswith("{"):
            return cls.from_json(conn_id, text)
        return cls.from_uri(conn_id, text)


def _port(conn_id: str, port: Any) -> int | None:
    if port is None or port == "":
        return None
    if isinstance(port, str) and port.strip().isdigit():
        port = int(port.strip())
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConnectionDefinitionError(
            f"connection '{conn_id}': port must be a number from 1 to 65535, not {port!r}"
        )
    return port


def _shown(uri: str) -> str:
    """The URI for an error message, without a password in it."""
    try:
        parts = urlsplit(uri)
        if parts.password:
            return repr(uri.replace(":" + parts.password + "@", ":***@", 1))
    except ValueError:
        pass
    return repr(uri)
