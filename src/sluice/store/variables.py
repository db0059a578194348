"""Variables: named values that DAGs read at run time, as Airflow's.

This module is the only code that reads or writes ``variable.val``: encryption at rest
(Fernet, with the Cipher that ``session.info`` carries) happens in ``_stored`` and
``_readable`` and nowhere else. Rows stored as plain text (``is_encrypted`` False, from
before encryption) still read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from sluice.core.errors import StoreError
from sluice.store.cipher import SecretKeyError, rekey, seal, unseal
from sluice.store.engine import session_cipher
from sluice.store.paging import fetch_page
from sluice.store.tables import ID, Variable

KEY_LENGTH = ID


class VariableInputError(StoreError):
    """Raised when a variable's key, value or an import file is not acceptable."""


class OnExisting(StrEnum):
    """What an import does with a key that already has a variable."""

    OVERWRITE = "overwrite"
    SKIP = "skip"
    FAIL = "fail"


@dataclass(frozen=True)
class VariableEntry:
    """A variable with its value as text."""

    key: str
    value: str
    description: str | None


@dataclass(frozen=True)
class ImportResult:
    """What an import did, key by key."""

    created: list[str]
    updated: list[str]
    skipped: list[str]


def check_key(key: str) -> str:
    """The key, or VariableInputError saying what is wrong with it."""
    if not key or not key.strip():
        raise VariableInputError("a variable key cannot be empty")
    if key != key.strip():
        raise VariableInputError(f"variable key {key!r} starts or ends with whitespace")
    if len(key) > KEY_LENGTH:
        raise VariableInputError(
            f"variable key is {len(key)} characters long; the most is {KEY_LENGTH}"
        )
    return key


def _stored(session: Session, key: str, value: str) -> tuple[str | None, bool]:
    # (text for the val column, is_encrypted), encrypted with the session's Fernet key.
    return seal(session_cipher(session), value, _what(key))


def _readable(session: Session, row: Variable) -> str:
    return unseal(session_cipher(session), row.val, row.is_encrypted, _what(row.key)) or ""


def reencrypt_variables(session: Session) -> int:
    """Re-encrypt every variable value with the first Fernet key (plain ones too); how many.

    SecretKeyError if a value cannot be decrypted: the caller's transaction then rolls back.
    """
    count = 0
    for row in session.scalars(select(Variable).order_by(Variable.key).with_for_update()):
        if row.val is not None:
            row.val, row.is_encrypted = rekey(
                session_cipher(session), row.val, row.is_encrypted, _what(row.key)
            )
            count += 1
    session.flush()
    return count


def _what(key: str) -> str:
    return f"variable '{key}'"


def _entry(session: Session, row: Variable) -> VariableEntry:
    return VariableEntry(key=row.key, value=_readable(session, row), description=row.description)


def _query(search: str | None) -> Select[Variable]:
    query = select(Variable).order_by(Variable.key)
    if search:
        query = query.where(Variable.key.contains(search, autoescape=True))
    return query


def list_variables(
    session: Session, *, search: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[VariableEntry], int]:
    """One page of the variables whose key contains ``search``, by key, and their total."""
    rows, total = fetch_page(session, _query(search), limit, offset, scalars=True)
    return [_entry(session, row) for row in rows], total


def iter_variables(session: Session, unreadable: list[str]) -> Iterator[VariableEntry]:
    """Every variable with its value (the web server masks secret ones in task output); the
    keys of those the Fernet key cannot decrypt go to ``unreadable`` instead."""
    for row in session.scalars(select(Variable).order_by(Variable.key)):
        try:
            yield _entry(session, row)
        except SecretKeyError:
            unreadable.append(row.key)


def get_variable(session: Session, key: str) -> VariableEntry | None:
    """The variable ``key``, or None if there is none."""
    row = session.scalar(select(Variable).where(Variable.key == key))
    return None if row is None else _entry(session, row)


def set_variable(
    session: Session,
    key: str,
    value: str,
    description: str | None = None,
    *,
    create_only: bool = False,
) -> tuple[VariableEntry, bool]:
    """Create or change a variable; returns it and whether it was created.

    ``description`` None keeps the current one, ``""`` removes it. With ``create_only``
    an existing key is refused.
    """
    check_key(key)
    if not isinstance(value, str):
        raise VariableInputError(f"variable '{key}': the value must be text")
    row = session.scalar(select(Variable).where(Variable.key == key).with_for_update())
    created = row is None
    if row is None:
        row = Variable(key=key)
        session.add(row)
    elif create_only:
        raise VariableInputError(f"variable '{key}' already exists")
    else:
        _readable(session, row)  # a wrong key must not overwrite what the right one reads
    row.val, row.is_encrypted = _stored(session, key, value)
    if description is not None:
        row.description = description or None
    session.flush()
    return VariableEntry(key=key, value=value, description=row.description), created


def delete_variable(session: Session, key: str) -> bool:
    """Delete the variable ``key``; False if there was none."""
    result = session.execute(delete(Variable).where(Variable.key == key))
    return bool(getattr(result, "rowcount", 0))


def as_text(value: Any) -> str:
    """A value as a variable holds it: text as is, anything else as JSON (as Airflow does)."""
    return value if isinstance(value, str) else json.dumps(value)


def parse_import(data: Any) -> dict[str, tuple[str, str | None]]:
    """An import file's content as {key: (value text, description)}; VariableInputError
    lists every problem at once.

    Each entry is ``key: value`` or ``key: {"value": ..., "description": ...}``.
    """
    if not isinstance(data, Mapping):
        raise VariableInputError(
            f"a variables file must hold a JSON object of key: value, not {_json_type(data)}"
        )
    entries: dict[str, tuple[str, str | None]] = {}
    problems: list[str] = []
    for key, raw in data.items():
        try:
            check_key(str(key))
        except VariableInputError as exc:
            problems.append(str(exc))
            continue
        value, description = raw, None
        if isinstance(raw, Mapping) and "value" in raw and set(raw) <= {"value", "description"}:
            value, description = raw["value"], raw.get("description")
            if description is not None and not isinstance(description, str):
                problems.append(f"variable '{key}': the description must be text")
                continue
        entries[str(key)] = (as_text(value), description)
    if problems:
        raise VariableInputError("nothing was imported: " + "; ".join(problems))
    return entries


def import_variables(
    session: Session, data: Any, on_existing: OnExisting = OnExisting.OVERWRITE
) -> ImportResult:
    """Import a JSON object of variables; all or nothing (the caller's transaction)."""
    entries = parse_import(data)
    existing = set(session.scalars(select(Variable.key).where(Variable.key.in_(list(entries)))))
    if on_existing is OnExisting.FAIL and existing:
        names = ", ".join(sorted(existing))
        raise VariableInputError(f"nothing was imported: these variables exist already: {names}")
    result = ImportResult(created=[], updated=[], skipped=[])
    for key, (value, description) in entries.items():
        if key in existing and on_existing is OnExisting.SKIP:
            result.skipped.append(key)
            continue
        _, created = set_variable(session, key, value, description)
        (result.created if created else result.updated).append(key)
    return result


def export_variables(session: Session) -> dict[str, Any]:
    """Every variable, ready to import again: ``key: value``, or ``key: {"value": ...,
    "description": ...}`` when it has a description. Values stay the exact stored text."""
    exported: dict[str, Any] = {}
    for row in session.scalars(select(Variable).order_by(Variable.key)):
        value = _readable(session, row)
        exported[row.key] = (
            {"value": value, "description": row.description} if row.description else value
        )
    return exported


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}  # fmt: skip
    return names.get(type(value), type(value).__name__)
