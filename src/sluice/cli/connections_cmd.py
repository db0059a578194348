"""``sluice connections``: add, show, list, delete, import, export and test connections."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from sluice.api.connection_test import try_connection
from sluice.cli.output import output_option, print_mapping, print_rows
from sluice.cli.stored_dags import CommandRefused, opened_store, read_json_file, record_action
from sluice.core.secrets_names import MASK
from sluice.integrations.connection import Connection
from sluice.integrations.errors import ConnectionDefinitionError
from sluice.integrations.lookup import get_connection
from sluice.store import connections
from sluice.store.connections import ConnectionSecrets
from sluice.store.variables import OnExisting

FIELDS = ("conn_type", "host", "login", "password", "schema", "port", "extra", "description")


@click.group("connections")
def connections_group() -> None:
    """Manage connections: how tasks reach databases, APIs and other systems.

    Tasks find a connection in the environment variable SLUICE_CONN_<CONN_ID> (a URI, or
    JSON starting with '{') first, then in the metadata database that these commands manage.
    """


def _stored_fields(conn: Connection) -> dict[str, Any]:
    return {
        "conn_type": conn.conn_type,
        "description": conn.description,
        "host": conn.host,
        "schema": conn.schema,
        "login": conn.login,
        "port": conn.port,
        "extra": conn.extra,
    }


def _from_options(
    conn_id: str, uri: str | None, as_json: str | None, fields: dict[str, Any]
) -> Connection:
    given = [name for name, value in fields.items() if value is not None]
    if uri is not None and as_json is not None:
        raise CommandRefused("give either --conn-uri or --conn-json, not both")
    if uri is not None or as_json is not None:
        clash = [f"--conn-{n.replace('_', '-')}" for n in given if n != "description"]
        if clash:
            raise CommandRefused(
                f"{', '.join(clash)} cannot go with --conn-uri or --conn-json, which give every"
                " field"
            )
        conn = (
            Connection.from_uri(conn_id, uri)
            if uri is not None
            else Connection.from_json(conn_id, as_json or "")
        )
        if fields.get("description") is not None:
            conn.description = fields["description"]
        return conn
    if not fields.get("conn_type"):
        raise CommandRefused("give --conn-uri, --conn-json, or at least --conn-type")
    data = {k: v for k, v in fields.items() if v is not None}
    if isinstance(data.get("extra"), str):
        try:
            data["extra"] = json.loads(data["extra"])
        except json.JSONDecodeError as exc:
            raise ConnectionDefinitionError(
                f"connection '{conn_id}': --conn-extra is not valid JSON: {exc}"
            ) from None
        if not isinstance(data["extra"], dict):
            raise ConnectionDefinitionError(
                f"connection '{conn_id}': --conn-extra must be a JSON object, such as"
                ' {"timeout": 30}'
            )
    return Connection.from_dict(conn_id, data)


@connections_group.command("add")
@click.argument("conn_id")
@click.option("--conn-uri", default=None, help="The whole connection as a URI.")
@click.option("--conn-json", default=None, help="The whole connection in Airflow's JSON form.")
@click.option("--conn-type", default=None, help="The connection type (postgres, http, ...).")
@click.option("--conn-host", default=None, help="Host.")
@click.option("--conn-login", default=None, help="Login.")
@click.option("--conn-password", default=None, help="Password.")
@click.option("--conn-schema", default=None, help="Schema (the database, for databases).")
@click.option("--conn-port", default=None, help="Port.")
@click.option("--conn-extra", default=None, help="Extra settings as a JSON object.")
@click.option("--conn-description", default=None, help="What the connection is for.")
def add(
    conn_id: str,
    conn_uri: str | None,
    conn_json: str | None,
    **options: str | None,
) -> None:
    """Add a connection to the metadata database (an existing CONN_ID is refused)."""
    fields = {name: options[name if name == "conn_type" else f"conn_{name}"] for name in FIELDS}
    conn = _from_options(conn_id, conn_uri, conn_json, fields)
    with opened_store() as (_, store), store.transaction() as session:
        connections.create_connection(session, conn_id, _stored_fields(conn), conn.password)
        record_action(session, "connections_add", extra={"conn_id": conn_id})
    click.echo(f"Connection '{conn_id}' added ({conn.conn_type}).")


def _shown(conn: Connection, show_password: bool) -> dict[str, Any]:
    if not show_password:
        password = MASK if conn.password else None
        conn = dataclasses.replace(
            conn, password=password, extra=connections.mask_extra(conn.extra)
        )
    uri = conn.get_uri().replace(":%2A%2A%2A@", f":{MASK}@")
    return {"conn_id": conn.conn_id, **conn.to_dict(), "uri": uri}


@connections_group.command("get")
@click.argument("conn_id")
@click.option("--show-password", is_flag=True, help="Show the password and secret extra fields.")
@output_option()
def get(conn_id: str, show_password: bool, output: str) -> None:
    """Show a connection as tasks see it (SLUICE_CONN_<CONN_ID> first, then the database).

    The password and secret-looking extra fields show as *** unless --show-password.
    """
    with opened_store() as (_, store):
        conn = get_connection(conn_id, store)
    print_mapping(_shown(conn, show_password), output)


@connections_group.command("list")
@output_option()
def list_connections(output: str) -> None:
    """List the connections in the metadata database (never their passwords)."""
    with opened_store() as (_, store), store.transaction() as session:
        infos, _ = connections.list_connections(session, limit=1_000_000)
    rows = [
        {
            "conn_id": info.conn_id,
            "conn_type": info.conn_type,
            "description": info.description,
            "host": info.host,
            "port": info.port,
            "schema": info.schema,
            "login": info.login,
            "password_set": info.password_set,
            "extra": info.extra,
        }
        for info in infos
    ]
    columns = ["conn_id", "conn_type", "host", "port", "schema", "login", "description"]
    print_rows(rows, columns, output, empty="No connections.")


@connections_group.command("delete")
@click.argument("conn_id")
def delete(conn_id: str) -> None:
    """Delete a connection from the metadata database."""
    with opened_store() as (_, store), store.transaction() as session:
        if not connections.delete_connection(session, conn_id):
            raise CommandRefused(f"there is no connection '{conn_id}' in the metadata database")
        record_action(session, "connections_delete", extra={"conn_id": conn_id})
    click.echo(f"Connection '{conn_id}' deleted.")


def parse_connections_file(path: Path) -> list[Connection]:
    """The connections of an import file; CommandRefused lists every problem at once.

    The file holds ``{conn_id: fields or URI, ...}`` or ``[{"conn_id": ..., fields}, ...]``.
    """
    data = read_json_file(path)
    items: list[tuple[Any, Any]]
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, list):
        items = []
        for n, entry in enumerate(data, 1):
            if not isinstance(entry, dict) or not isinstance(entry.get("conn_id"), str):
                raise CommandRefused(f"{path}: entry {n} is not an object with a conn_id")
            items.append((entry["conn_id"], {k: v for k, v in entry.items() if k != "conn_id"}))
    else:
        raise CommandRefused(f"{path} must hold a JSON object of conn_id: connection, or a list")
    found: list[Connection] = []
    problems: list[str] = []
    seen: set[str] = set()
    for conn_id, value in items:
        try:
            connections.check_conn_id(str(conn_id))
            if conn_id in seen:
                raise CommandRefused(f"connection '{conn_id}' appears twice")
            seen.add(conn_id)
            if isinstance(value, str):
                found.append(Connection.from_text(conn_id, value))
            else:
                found.append(Connection.from_dict(conn_id, value))
        except (ConnectionDefinitionError, CommandRefused, connections.ConnectionInputError) as exc:
            problems.append(str(exc))
    if problems:
        raise CommandRefused(f"nothing was imported from {path}: " + "; ".join(problems))
    return found


@connections_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--on-existing",
    type=click.Choice([o.value for o in OnExisting]),
    default=OnExisting.FAIL.value,
    show_default=True,
    help="What to do with a conn_id that exists already: overwrite it, skip it, or import nothing.",
)
def import_connections(file: Path, on_existing: str) -> None:
    """Import connections from a JSON file, all or nothing.

    FILE holds {"conn_id": {"conn_type": ..., "host": ..., ...} or "URI", ...}, or a list of
    objects with a conn_id, as `connections export` writes.
    """
    found = parse_connections_file(file)
    policy = OnExisting(on_existing)
    created: list[str] = []
    updated: list[str] = []
    skipped: list[str] = []
    with opened_store() as (_, store), store.transaction() as session:
        existing = [c.conn_id for c in found if connections.get_connection(session, c.conn_id)]
        if existing and policy is OnExisting.FAIL:
            raise CommandRefused(
                "nothing was imported: these connections exist already: "
                + ", ".join(existing)
                + " (--on-existing overwrite or skip)"
            )
        for conn in found:
            if conn.conn_id in existing:
                if policy is OnExisting.SKIP:
                    skipped.append(conn.conn_id)
                    continue
                connections.update_connection(
                    session,
                    conn.conn_id,
                    _stored_fields(conn),
                    password=conn.password,
                    clear_password=not conn.password,
                )
                updated.append(conn.conn_id)
            else:
                connections.create_connection(
                    session, conn.conn_id, _stored_fields(conn), conn.password
                )
                created.append(conn.conn_id)
        record_action(
            session,
            "connections_import",
            extra={"file": str(file), "created": created, "updated": updated},
        )
    click.echo(
        f"Imported {len(created)} new and {len(updated)} changed connections"
        f" ({len(skipped)} skipped) from {file}."
    )


@connections_group.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["json", "env"]),
    default="json",
    show_default=True,
    help="json: an object by conn_id that `connections import` reads; env: CONN_ID=URI lines.",
)
def export_connections(file: Path, file_format: str) -> None:
    """Write every connection of the metadata database, with passwords, to FILE ('-': stdout).

    The file holds secrets: it is created readable by its owner only.
    """
    with opened_store() as (_, store), store.transaction() as session:
        infos, _ = connections.list_connections(session, limit=1_000_000)
        found: list[Connection] = []
        for info in infos:
            secrets = connections.get_connection_secrets(session, info.conn_id)
            if secrets is not None:
                found.append(_connection(secrets, info.description))
    if file_format == "json":
        text = json.dumps({c.conn_id: c.to_dict() for c in found}, indent=2) + "\n"
    else:
        text = "".join(f"{c.conn_id}={c.get_uri()}\n" for c in found)
    if str(file) == "-":
        click.echo(text, nl=False)
        return
    try:
        file.touch(mode=0o600, exist_ok=True)
        file.write_text(text)
    except OSError as exc:
        raise CommandRefused(f"cannot write {file}: {exc.strerror or exc}") from None
    click.echo(f"Exported {len(found)} connections to {file}.", err=True)


def _connection(secrets: ConnectionSecrets, description: str | None) -> Connection:
    return Connection(
        conn_id=secrets.conn_id,
        conn_type=secrets.conn_type,
        host=secrets.host,
        schema=secrets.schema,
        login=secrets.login,
        password=secrets.password,
        port=secrets.port,
        extra=secrets.extra,
        description=description,
    )


@connections_group.command("test")
@click.argument("conn_id")
@click.pass_context
def test(ctx: click.Context, conn_id: str) -> None:
    """Reach the system a connection names once (SELECT 1 for databases, GET for HTTP).

    Exits 1 when it fails. The connection comes from SLUICE_CONN_<CONN_ID> or the database.
    """
    with opened_store() as (_, store):
        conn = get_connection(conn_id, store)
    secrets = ConnectionSecrets(
        conn_id=conn.conn_id,
        conn_type=conn.conn_type,
        host=conn.host,
        schema=conn.schema,
        login=conn.login,
        password=conn.password,
        port=conn.port,
        extra=conn.extra,
    )
    ok, message = try_connection(secrets)
    if ok:
        click.echo(f"Connection '{conn_id}' works: {message}")
    else:
        click.secho(f"Connection '{conn_id}' failed: {message}", fg="red", err=True)
        ctx.exit(1)
