"""How XCom values are stored: JSON, plus datetimes, dates and timedeltas, tagged."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from sluice.core.errors import XComError

_TAG = "__sluice_type__"
ALLOWED = "lists, dicts with string keys, strings, numbers, booleans, None and datetimes"


def encode_xcom(value: Any, *, where: str, max_bytes: int | None = None) -> str:
    """The stored text of ``value``; XComError names ``where`` and the offending part."""
    data = json.dumps(_to_json(value, where, "value"), separators=(",", ":"), allow_nan=False)
    if max_bytes is not None and len(data.encode()) > max_bytes:
        raise XComError(
            f"{where}: the value is {len(data.encode())} bytes, over the XCom limit of "
            f"{max_bytes} bytes; store large data elsewhere and pass its location"
        )
    return data


def decode_xcom(text: str) -> Any:
    """The value that :func:`encode_xcom` stored."""
    return json.loads(text, object_hook=_from_json)


def _to_json(value: Any, where: str, path: str) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise XComError(f"{where}: {path} is {value}, which JSON cannot hold")
        return value
    if isinstance(value, datetime):
        return {_TAG: "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {_TAG: "date", "value": value.isoformat()}
    if isinstance(value, timedelta):
        return {_TAG: "timedelta", "value": value.total_seconds()}
    if isinstance(value, list | tuple):
        return [_to_json(v, where, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise XComError(
                    f"{where}: {path} has the key {k!r} ({type(k).__name__}); XCom dict keys "
                    "must be strings"
                )
            out[k] = _to_json(v, where, f"{path}[{k!r}]")
        return out
    raise XComError(
        f"{where}: {path} is of type {type(value).__name__}, which cannot be stored in XCom; "
        f"XCom holds {ALLOWED}"
    )


def _from_json(obj: dict[str, Any]) -> Any:
    kind = obj.get(_TAG)
    if kind == "datetime":
        return datetime.fromisoformat(obj["value"])
    if kind == "date":
        return date.fromisoformat(obj["value"])
    if kind == "timedelta":
        return timedelta(seconds=obj["value"])
    return obj
