"""Turning arbitrary values from a DAG file into stable, JSON-ready data for display.

The serialized DAG keeps unrendered template values, default_args and mapping inputs
so that the UI can show them; the scheduler never interprets them. Plain JSON values
pass through; everything else becomes a string that does not change between two
parses of the same file (memory addresses are removed from reprs), so that the DAG's
hash only changes when the DAG does.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, time, timedelta
from enum import Enum
from pathlib import PurePath
from typing import Any

from sluice.sdk.params import DagParam, Param
from sluice.sdk.xcom_arg import XComArg

XCOMARG_MARKER = "__xcomarg__"
"""``{"__xcomarg__": {"task_id": ..., "key": ...}}`` stands for another task's output."""
DAGPARAM_MARKER = "__dagparam__"
"""``{"__dagparam__": name}`` stands for a ``@dag`` function argument (a run param)."""
PARAM_MARKER = "__param__"
"""``{"__param__": Param.dump()}`` stands for a Param found inside default_args."""

_MAX_DEPTH = 50
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def json_safe(value: Any) -> Any:
    """``value`` as JSON data: plain values kept, references marked, the rest as text."""
    return _convert(value, 0)


def qualified_name(value: Any) -> str:
    """``module.qualname`` of a function or class, else its address-free repr."""
    module = getattr(value, "__module__", None)
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if isinstance(module, str) and isinstance(name, str):
        return f"{module}.{name}"
    return stable_repr(value)


def stable_repr(value: Any) -> str:
    """``repr(value)`` without memory addresses, which change on every parse."""
    try:
        text = repr(value)
    except Exception as exc:  # a user's broken __repr__ must not fail the parse
        text = f"<{type(value).__name__} (repr failed: {type(exc).__name__})>"
    return _ADDRESS.sub("", text)


def _convert(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # StrEnum and other subclasses become plain str
    if isinstance(value, int) and not isinstance(value, Enum):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else repr(float(value))
    if depth >= _MAX_DEPTH:
        return stable_repr(value)
    if isinstance(value, XComArg):
        return {XCOMARG_MARKER: {"task_id": value.operator.task_id, "key": value.key}}
    if isinstance(value, DagParam):
        return {DAGPARAM_MARKER: value.name}
    if isinstance(value, Param):
        return {PARAM_MARKER: _convert(value.dump(), depth + 1)}
    if isinstance(value, dict):
        return {_key(k): _convert(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_convert(item, depth + 1) for item in value]
    if isinstance(value, set | frozenset):
        items = [_convert(item, depth + 1) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return _convert(value.value, depth + 1)
    if isinstance(value, PurePath):
        return str(value)
    if callable(value) and hasattr(value, "__qualname__"):
        return qualified_name(value)
    return stable_repr(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return str.__str__(key)
    if isinstance(key, bool) or key is None:
        return json.dumps(key)  # as json.dumps would write the key: true, null
    if isinstance(key, int | float):
        return str(key)
    return stable_repr(key)
