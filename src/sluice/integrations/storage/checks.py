"""Checks of storage operator arguments at DAG definition time, and again once rendered.

A value that is a template (``{{ ... }}``) or an XComArg is known only when the task runs:
the definition-time checks leave it alone, and the operators check it after rendering.
"""

from __future__ import annotations

from typing import Any

from sluice.core.errors import DagDefinitionError
from sluice.integrations.storage.errors import InvalidLocation
from sluice.integrations.storage.locations import split_location
from sluice.sdk.templating import is_template
from sluice.sdk.xcom_arg import XComArg


def check_text(where: str, name: str, value: Any, *, optional: bool = False) -> Any:
    """``value`` if it is a non-empty string (or None when ``optional``, or a template)."""
    if value is None and optional:
        return None
    if isinstance(value, XComArg) or (isinstance(value, str) and value.strip()):
        return value
    kind = "a non-empty string or None" if optional else "a non-empty string"
    raise DagDefinitionError(f"{where}: {name} must be {kind}, got {value!r}")


def check_storage_conn_id(where: str, name: str, value: Any) -> str | None:
    """A storage connection id: a non-empty string, or None for the local filesystem."""
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise DagDefinitionError(
        f"{where}: {name} must be a connection id (a non-empty string), or None for the local"
        f" filesystem with absolute paths; got {value!r}"
    )


def check_location(where: str, bucket: Any, key: Any, *, bucket_param: str, key_param: str) -> None:
    """DagDefinitionError when a bucket and a key (not templates) cannot name an object
    together: a URL with a bucket given too, or a URL of another scheme."""
    if is_template(bucket) or is_template(key):
        return
    try:
        split_location(bucket, key, bucket_param=bucket_param, key_param=key_param)
    except InvalidLocation as exc:
        raise DagDefinitionError(f"{where}: {exc}") from None


def rendered_text(where: str, name: str, value: Any, *, optional: bool = False) -> Any:
    """A rendered field checked again: a template may render to nothing."""
    if value is None and optional:
        return None
    if isinstance(value, str) and value.strip():
        return value
    raise ValueError(f"{where}: {name} rendered to {value!r}; it must be a non-empty string")
