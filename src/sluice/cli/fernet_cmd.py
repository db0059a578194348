"""``sluice rotate-fernet-key``: re-encrypt every secret at rest with the first Fernet key."""

from __future__ import annotations

import click

from sluice.cli.stored_dags import opened_store, record_action
from sluice.store.secrets_rotation import rotate_secrets


@click.command("rotate-fernet-key")
def rotate_fernet_key() -> None:
    """Re-encrypt variable values, connection passwords and extras with the first key.

    To rotate: set [core] fernet_key to "NEW,OLD", run this command, then drop OLD. Values
    stored as plain text get encrypted too. All or nothing: if a key cannot decrypt one
    secret, nothing is changed.
    """
    with opened_store() as (_, store), store.transaction() as session:
        rotated = rotate_secrets(session)
        record_action(
            session,
            "rotate_fernet_key",
            extra={
                "variables": rotated.variables,
                "passwords": rotated.passwords,
                "extras": rotated.extras,
            },
        )
    click.echo(
        f"Re-encrypted {rotated.variables} variable value(s), {rotated.passwords} connection"
        f" password(s) and {rotated.extras} connection extra(s) with the first key."
    )
