"""``sluice variables``: set, get, list, delete, import and export variables."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sluice.cli.output import output_option, print_rows
from sluice.cli.stored_dags import CommandRefused, opened_store, read_json_file, record_action
from sluice.core.secrets_names import MASK, is_sensitive_key
from sluice.integrations.lookup import MISSING, get_variable
from sluice.store import variables
from sluice.store.variables import OnExisting


@click.group("variables")
def variables_group() -> None:
    """Manage variables: named values that DAGs read with Variable.get or {{ var.value.x }}.

    Tasks read SLUICE_VAR_<KEY> from the environment first, then the metadata database that
    these commands manage.
    """


@variables_group.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--description", "-d", default=None, help="What the variable is for.")
@click.option("--json", "-j", "as_json", is_flag=True, help="VALUE is JSON: check it first.")
def set_variable(key: str, value: str, description: str | None, as_json: bool) -> None:
    """Create or change the variable KEY."""
    if as_json:
        try:
            value = json.dumps(json.loads(value))
        except json.JSONDecodeError as exc:
            raise CommandRefused(
                f"the value of variable '{key}' is not valid JSON: {exc}"
            ) from None
    with opened_store() as (_, store), store.transaction() as session:
        _, created = variables.set_variable(session, key, value, description)
        record_action(session, "variables_set", extra={"key": key})
    click.echo(f"Variable '{key}' {'created' if created else 'changed'}.")


@variables_group.command("get")
@click.argument("key")
@click.option("--default", default=None, help="Print this when the variable is not defined.")
@click.option(
    "--json", "-j", "as_json", is_flag=True, help="Parse the value as JSON; print it indented."
)
def get_variable_cmd(key: str, default: str | None, as_json: bool) -> None:
    """Print the variable KEY as tasks see it (SLUICE_VAR_<KEY> first, then the database)."""
    with opened_store() as (_, store):
        value = get_variable(
            key, store, MISSING if default is None else default, deserialize_json=as_json
        )
    click.echo(json.dumps(value, indent=2) if as_json and value is not default else value)


def _shown(key: str, value: str) -> str:
    return MASK if is_sensitive_key(key) and value else value


@variables_group.command("list")
@click.option("--show-values", is_flag=True, help="Show the values of secret-looking keys too.")
@output_option()
def list_variables(show_values: bool, output: str) -> None:
    """List the variables of the metadata database; values of keys that look secret
    (password, token, ...) show as *** unless --show-values."""
    with opened_store() as (_, store), store.transaction() as session:
        entries, _ = variables.list_variables(session, limit=1_000_000)
    rows = [
        {
            "key": e.key,
            "value": e.value if show_values else _shown(e.key, e.value),
            "description": e.description,
        }
        for e in entries
    ]
    print_rows(rows, ["key", "value", "description"], output, empty="No variables.")


@variables_group.command("delete")
@click.argument("key")
def delete_variable(key: str) -> None:
    """Delete the variable KEY from the metadata database."""
    with opened_store() as (_, store), store.transaction() as session:
        if not variables.delete_variable(session, key):
            raise CommandRefused(f"there is no variable '{key}' in the metadata database")
        record_action(session, "variables_delete", extra={"key": key})
    click.echo(f"Variable '{key}' deleted.")


@variables_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--on-existing",
    type=click.Choice([o.value for o in OnExisting]),
    default=OnExisting.OVERWRITE.value,
    show_default=True,
    help="What to do with a key that exists already: overwrite it, skip it, or import nothing.",
)
def import_variables(file: Path, on_existing: str) -> None:
    """Import variables from a JSON file, all or nothing.

    FILE holds {"key": value, ...}; a value that is not text is stored as JSON, and
    {"value": ..., "description": ...} sets a description too.
    """
    data = read_json_file(file)
    with opened_store() as (_, store), store.transaction() as session:
        result = variables.import_variables(session, data, OnExisting(on_existing))
        record_action(
            session,
            "variables_import",
            extra={"file": str(file), "created": result.created, "updated": result.updated},
        )
    click.echo(
        f"Imported {len(result.created)} new and {len(result.updated)} changed variables"
        f" ({len(result.skipped)} skipped) from {file}."
    )


@variables_group.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
def export_variables(file: Path) -> None:
    """Write every variable of the metadata database to FILE as JSON ('-': stdout), ready
    for `variables import`."""
    with opened_store() as (_, store), store.transaction() as session:
        data = variables.export_variables(session)
    text = json.dumps(data, indent=2) + "\n"
    if str(file) == "-":
        click.echo(text, nl=False)
        return
    try:
        file.touch(mode=0o600, exist_ok=True)
        file.write_text(text)
    except OSError as exc:
        raise CommandRefused(f"cannot write {file}: {exc.strerror or exc}") from None
    click.echo(f"Exported {len(data)} variables to {file}.", err=True)
