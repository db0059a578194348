"""Rules for DAG, task and group ids, as Airflow's KEY_REGEX has them."""

from __future__ import annotations

import re

from sluice.core.errors import DagDefinitionError

KEY_PATTERN = re.compile(r"^[\w.-]+$")
MAX_KEY_LENGTH = 250


def validate_key(key: object, what: str) -> None:
    """Raise if ``key`` is not a valid id: letters, digits, ``_``, ``-`` and ``.``."""
    if not isinstance(key, str):
        raise DagDefinitionError(f"{what} must be a string, got {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise DagDefinitionError(f"{what} '{key[:40]}...' is longer than {MAX_KEY_LENGTH}")
    if not KEY_PATTERN.match(key):
        raise DagDefinitionError(
            f"{what} '{key}' may only contain letters, digits, '_', '-' and '.'"
        )
