"""Connections: how tasks reach outside systems (host, login, password, extra), as Airflow's.

This module is the only code that reads or writes ``connection.password`` and
``connection.extra``: encryption at rest (Fernet, with the Cipher that ``session.info``
carries) happens in ``_stored`` and ``_readable`` and nowhere else; rows stored as plain text
(from before encryption) still read. What it hands to pages and the API
(``ConnectionInfo``) never holds the password, and secret fields of ``extra`` are masked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, or_, select
from sqlalchemy.orm import Session

from sluice.core.errors import StoreError
from sluice.core.secrets_names import MASK, is_sensitive_key, redact_sensitive_keys
from sluice.store.cipher import SecretKeyError, rekey, seal, unseal
from sluice.store.engine import session_cipher
from sluice.store.paging import fetch_page
from sluice.store.tables import ID, Connection

CONN_ID_LENGTH = ID
CONN_ID_PATTERN = re.compile(r"[\w.-]+", re.ASCII)
TEXT_FIELDS = ("conn_type", "description", "host", "schema", "login")
FIELDS = (*TEXT_FIELDS, "port", "extra")
"""What a caller may set besides conn_id and the password."""
SHORT_LENGTH = 500


class ConnectionInputError(StoreError):
    """Raised when a connection's id or fields are not acceptable."""


@dataclass(frozen=True)
class ConnectionInfo:
    """A connection as pages and the API show it: no password, secret extra fields masked."""

    conn_id: str
    conn_type: str
    description: str | None
    host: str | None
    schema: str | None
    login: str | None
    port: int | None
    extra: str | None
    password_set: bool


@dataclass(frozen=True)
class ConnectionSecrets:
    """A connection with its password and its real extra, for code that connects with it."""

    conn_id: str
    conn_type: str
    host: str | None
    schema: str | None
    login: str | None
    password: str | None
    port: int | None
    extra: str | None

    def extra_dict(self) -> dict[str, Any]:
        """The extra JSON object (empty without one)."""
        return _load_object(self.extra)


def check_conn_id(conn_id: str) -> str:
    """The conn_id, or ConnectionInputError saying what is wrong with it."""
    if not conn_id:
        raise ConnectionInputError("a conn_id cannot be empty")
    if len(conn_id) > CONN_ID_LENGTH:
        raise ConnectionInputError(
            f"conn_id is {len(conn_id)} characters long; the most is {CONN_ID_LENGTH}"
        )
    if not CONN_ID_PATTERN.fullmatch(conn_id):
        raise ConnectionInputError(
            f"conn_id {conn_id!r} may hold only letters, digits, '_', '.' and '-'"
        )
    return conn_id


def check_extra(extra: str | None) -> str | None:
    """The extra as JSON object text (None when blank), or ConnectionInputError."""
    if extra is None or not extra.strip():
        return None
    try:
        loaded = json.loads(extra)
    except json.JSONDecodeError as exc:
        raise ConnectionInputError(f"extra is not valid JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise ConnectionInputError('extra must be a JSON object, such as {"timeout": 30}')
    return extra.strip()


def check_port(port: Any) -> int | None:
    """The port as a number (None when blank), or ConnectionInputError."""
    if port is None or port == "":
        return None
    if isinstance(port, str) and port.strip().isdigit():
        port = int(port.strip())
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConnectionInputError(f"port must be a number from 1 to 65535, not {port!r}")
    return port


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ConnectionInputError(f"unknown connection fields: {', '.join(sorted(unknown))}")
    cleaned: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        if name in fields:
            value = fields[name]
            if value is not None and not isinstance(value, str):
                raise ConnectionInputError(f"{name} must be text")
            value = value.strip() if value and name != "description" else value
            if name != "description" and value and len(value) > SHORT_LENGTH:
                raise ConnectionInputError(f"{name} is longer than {SHORT_LENGTH} characters")
            cleaned[name] = value or None
    if "conn_type" in cleaned and not cleaned["conn_type"]:
        raise ConnectionInputError("conn_type cannot be empty; choose a connection type")
    if "port" in fields:
        cleaned["port"] = check_port(fields["port"])
    if "extra" in fields:
        cleaned["extra"] = check_extra(fields["extra"])
    return cleaned


def _stored(session: Session, text: str | None, what: str) -> tuple[str | None, bool]:
    # (column text, is_encrypted), encrypted with the session's Fernet key.
    return seal(session_cipher(session), text, what)


def _readable(session: Session, text: str | None, encrypted: bool, what: str) -> str | None:
    return unseal(session_cipher(session), text, encrypted, what)


def reencrypt_connections(session: Session) -> tuple[int, int]:
    """Re-encrypt every connection password and extra with the first Fernet key (plain ones
    too); how many (passwords, extras).

    SecretKeyError if one cannot be decrypted: the caller's transaction then rolls back.
    """
    cipher = session_cipher(session)
    passwords = extras = 0
    query = select(Connection).order_by(Connection.conn_id).with_for_update()
    for row in session.scalars(query):
        if row.password is not None:
            row.password, row.is_encrypted = rekey(
                cipher, row.password, row.is_encrypted, _password_of(row.conn_id)
            )
            passwords += 1
        if row.extra is not None:
            row.extra, row.is_extra_encrypted = rekey(
                cipher, row.extra, row.is_extra_encrypted, _extra_of(row.conn_id)
            )
            extras += 1
    session.flush()
    return passwords, extras


def _password_of(conn_id: str) -> str:
    return f"the password of connection '{conn_id}'"


def _extra_of(conn_id: str) -> str:
    return f"the extra of connection '{conn_id}'"


def _info(session: Session, row: Connection) -> ConnectionInfo:
    extra = _readable(session, row.extra, row.is_extra_encrypted, _extra_of(row.conn_id))
    return ConnectionInfo(
        conn_id=row.conn_id,
        conn_type=row.conn_type,
        description=row.description,
        host=row.host,
        schema=row.schema,
        login=row.login,
        port=row.port,
        extra=mask_extra(extra),
        password_set=bool(row.password),
    )


def mask_extra(extra: str | None) -> str | None:
    """The extra with the values of secret-looking fields replaced by ***."""
    if not extra:
        return extra
    try:
        loaded = json.loads(extra)
    except json.JSONDecodeError:
        return MASK  # not ours to show when we cannot tell what is secret
    masked = redact_sensitive_keys(loaded)
    return extra if masked == loaded else json.dumps(masked)


def _unmask(new: Any, old: Any) -> Any:
    # A secret field sent back as *** (as the edit form shows it) keeps its stored value.
    if isinstance(new, dict) and isinstance(old, dict):
        kept = {k for k, v in new.items() if v == MASK and k in old and is_sensitive_key(str(k))}
        return {k: old[k] if k in kept else _unmask(v, old.get(k)) for k, v in new.items()}
    return new


def _load_object(text: str | None) -> dict[str, Any]:
    try:
        loaded = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _query(search: str | None) -> Select[Connection]:
    query = select(Connection).order_by(Connection.conn_id)
    if search:
        query = query.where(
            or_(
                Connection.conn_id.contains(search, autoescape=True),
                Connection.conn_type.contains(search, autoescape=True),
                Connection.host.contains(search, autoescape=True),
            )
        )
    return query


def list_connections(
    session: Session, *, search: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[ConnectionInfo], int]:
    """One page of the connections whose id, type or host contains ``search``, and the total."""
    rows, total = fetch_page(session, _query(search), limit, offset, scalars=True)
    return [_info(session, row) for row in rows], total


def _row(session: Session, conn_id: str, *, lock: bool = False) -> Connection | None:
    query = select(Connection).where(Connection.conn_id == conn_id)
    return session.scalar(query.with_for_update() if lock else query)


def get_connection(session: Session, conn_id: str) -> ConnectionInfo | None:
    """The connection ``conn_id`` as it may be shown, or None."""
    row = _row(session, conn_id)
    return None if row is None else _info(session, row)


def get_connection_secrets(session: Session, conn_id: str) -> ConnectionSecrets | None:
    """The connection ``conn_id`` with its password, to connect with it; or None."""
    row = _row(session, conn_id)
    return None if row is None else _secrets(session, row)


def iter_connection_secrets(session: Session, unreadable: list[str]) -> Iterator[ConnectionSecrets]:
    """Every connection with its password (the web server masks them in task output); the
    ids of those the Fernet key cannot decrypt go to ``unreadable`` instead."""
    for row in session.scalars(select(Connection).order_by(Connection.conn_id)):
        try:
            yield _secrets(session, row)
        except SecretKeyError:
            unreadable.append(row.conn_id)


def _secrets(session: Session, row: Connection) -> ConnectionSecrets:
    conn_id = row.conn_id
    return ConnectionSecrets(
        conn_id=row.conn_id,
        conn_type=row.conn_type,
        host=row.host,
        schema=row.schema,
        login=row.login,
        password=_readable(session, row.password, row.is_encrypted, _password_of(conn_id)),
        port=row.port,
        extra=_readable(session, row.extra, row.is_extra_encrypted, _extra_of(conn_id)),
    )


def create_connection(
    session: Session, conn_id: str, fields: Mapping[str, Any], password: str | None = None
) -> ConnectionInfo:
    """A new connection; ConnectionInputError for a taken or bad conn_id or bad fields."""
    check_conn_id(conn_id)
    cleaned = _clean(fields)
    if not cleaned.get("conn_type"):
        raise ConnectionInputError("conn_type cannot be empty; choose a connection type")
    if _row(session, conn_id) is not None:
        raise ConnectionInputError(f"connection '{conn_id}' already exists")
    row = Connection(conn_id=conn_id, **{k: v for k, v in cleaned.items() if k != "extra"})
    row.extra, row.is_extra_encrypted = _stored(session, cleaned.get("extra"), _extra_of(conn_id))
    row.password, row.is_encrypted = _stored(session, password or None, _password_of(conn_id))
    session.add(row)
    session.flush()
    return _info(session, row)


def update_connection(
    session: Session,
    conn_id: str,
    fields: Mapping[str, Any],
    *,
    password: str | None = None,
    clear_password: bool = False,
) -> ConnectionInfo | None:
    """Change the given fields of a connection (None if there is none).

    A blank ``password`` keeps the stored one; ``clear_password`` removes it. Secret
    fields of ``extra`` sent as *** keep their stored values.
    """
    cleaned = _clean(fields)
    row = _row(session, conn_id, lock=True)
    if row is None:
        return None
    # Both secrets are read first: a wrong key must not overwrite what the right one reads.
    _readable(session, row.password, row.is_encrypted, _password_of(conn_id))
    old_extra = _readable(session, row.extra, row.is_extra_encrypted, _extra_of(conn_id))
    if cleaned.get("extra") is not None:
        new = json.loads(cleaned["extra"])
        merged = _unmask(new, _load_object(old_extra))
        if merged != new:
            cleaned["extra"] = json.dumps(merged)
    for name, value in cleaned.items():
        if name == "extra":
            row.extra, row.is_extra_encrypted = _stored(session, value, _extra_of(conn_id))
        else:
            setattr(row, name, value)
    if clear_password:
        row.password, row.is_encrypted = _stored(session, None, _password_of(conn_id))
    elif password:
        row.password, row.is_encrypted = _stored(session, password, _password_of(conn_id))
    session.flush()
    return _info(session, row)


def delete_connection(session: Session, conn_id: str) -> bool:
    """Delete the connection ``conn_id``; False if there was none."""
    result = session.execute(delete(Connection).where(Connection.conn_id == conn_id))
    return bool(getattr(result, "rowcount", 0))
