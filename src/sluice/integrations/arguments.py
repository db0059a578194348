"""Checks of operator arguments shared by the integrations: each returns the value it
accepts, or raises DagDefinitionError (or ``error``) naming the task and the argument."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluice.core.errors import DagDefinitionError


def check_conn_id(where: str, name: str, conn_id: Any) -> str:
    """``conn_id`` if it is a non-empty string, else DagDefinitionError."""
    if not isinstance(conn_id, str) or not conn_id.strip():
        raise DagDefinitionError(
            f"{where}: {name} must be a connection id (a non-empty string), got {conn_id!r}"
        )
    return conn_id


def check_bool(where: str, name: str, value: Any) -> bool:
    """``value`` if it is a bool."""
    if not isinstance(value, bool):
        raise DagDefinitionError(f"{where}: {name} must be True or False, got {value!r}")
    return value


def check_callable(where: str, name: str, value: Any) -> Any:
    """``value`` if it is None or callable."""
    if value is not None and not callable(value):
        raise DagDefinitionError(f"{where}: {name} must be callable, got {value!r}")
    return value


def check_dict(where: str, name: str, value: Any) -> dict[str, Any]:
    """``value`` as a dict (None is empty), else DagDefinitionError."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise DagDefinitionError(f"{where}: {name} must be a dict, got {value!r}")
    return dict(value)


def positive_int(
    where: str,
    name: str,
    value: Any,
    *,
    text: bool = False,
    error: type[Exception] = DagDefinitionError,
) -> int:
    """``value`` if it is an integer of at least 1 (with ``text``, also its digits as a
    string: a rendered template), else ``error``."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif text and isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if number is None or number < 1:
        raise error(f"{where}: {name} must be an integer of at least 1, got {value!r}")
    return number
