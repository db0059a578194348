"""``Variable``: Airflow's API for DAG code to read and write variables.

Reads look at ``SLUICE_VAR_<KEY>`` first, then the metadata database of the task run;
writes go to the database. Outside a task run by Sluice there is no database, and only
the environment can answer.
"""

from __future__ import annotations

import json
from typing import Any

from sluice.integrations.errors import NoMetadataDatabase
from sluice.integrations.lookup import MISSING, get_variable, variable_env_name
from sluice.integrations.runtime import current_store
from sluice.store import variables
from sluice.store.engine import Store

_NEEDS_DB = (
    "{what} needs the metadata database: run the task with sluice (dags test, tasks test or"
    " the scheduler)"
)


def _store(what: str) -> Store:
    store = current_store()
    if store is None:
        raise NoMetadataDatabase(_NEEDS_DB.format(what=what))
    return store


class Variable:
    """Named values in the metadata database (or the environment), as Airflow's."""

    @classmethod
    def get(
        cls,
        key: str,
        default_var: Any = MISSING,
        deserialize_json: bool = False,
        *,
        default: Any = MISSING,
    ) -> Any:
        """The variable ``key`` (parsed as JSON when ``deserialize_json``), or the default.

        ``default_var`` is Airflow 2's name for ``default``. Raises VariableNotFound (a
        KeyError) when it is missing and no default is given.
        """
        fallback = default if default is not MISSING else default_var
        return get_variable(key, current_store, fallback, deserialize_json=deserialize_json)

    @classmethod
    def set(
        cls,
        key: str,
        value: Any,
        description: str | None = None,
        serialize_json: bool = False,
    ) -> None:
        """Create or change the variable ``key`` in the database (JSON with
        ``serialize_json``, as Airflow's)."""
        text = json.dumps(value, indent=2) if serialize_json else str(value)
        with _store(f"Variable.set('{key}')").transaction() as session:
            variables.set_variable(session, key, text, description)

    @classmethod
    def delete(cls, key: str) -> int:
        """Delete the variable ``key`` from the database; how many were deleted (0 or 1)."""
        with _store(f"Variable.delete('{key}')").transaction() as session:
            return int(variables.delete_variable(session, key))

    @staticmethod
    def env_name(key: str) -> str:
        """The environment variable that overrides ``key``."""
        return variable_env_name(key)
