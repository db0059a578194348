"""Re-encrypting every secret at rest with the first Fernet key (``sluice rotate-fernet-key``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from sluice.store.connections import reencrypt_connections
from sluice.store.variables import reencrypt_variables


@dataclass(frozen=True)
class Rotated:
    """How many secrets a rotation re-encrypted, by kind."""

    variables: int
    passwords: int
    extras: int


def rotate_secrets(session: Session) -> Rotated:
    """Re-encrypt every variable value, connection password and extra with the first key.

    All or nothing: SecretKeyError for the first secret no key opens, and the caller's
    transaction rolls back every change.
    """
    variables = reencrypt_variables(session)
    passwords, extras = reencrypt_connections(session)
    return Rotated(variables=variables, passwords=passwords, extras=extras)
