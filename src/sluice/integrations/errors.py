"""The errors of Variables and Connections."""

from __future__ import annotations

from sluice.core.errors import SluiceError


class IntegrationError(SluiceError):
    """Raised when a Variable, a Connection or an outside system refuses something."""


class ConnectionDefinitionError(IntegrationError):
    """Raised when a connection's URI or JSON form cannot be read."""


class ConnectionNotFound(IntegrationError):
    """Raised when neither the environment nor the database defines a conn_id."""


class VariableNotFound(IntegrationError, KeyError):
    """Raised when neither the environment nor the database holds a variable (a KeyError,
    as Airflow's)."""

    def __str__(self) -> str:
        # KeyError's str() quotes its argument; this is a sentence.
        return str(self.args[0]) if self.args else ""


class VariableValueError(IntegrationError):
    """Raised when a variable read with ``deserialize_json`` is not valid JSON."""


class NoMetadataDatabase(IntegrationError):
    """Raised when DAG code needs the metadata database outside a task run by Sluice."""
