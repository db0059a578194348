"""sluice db ... and sluice pools ...: the metadata database and its pools."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from sluice.cli.arguments import parse_datetime
from sluice.cli.example_connections import ensure_example_connections
from sluice.cli.loading import cli_settings, in_default_timezone
from sluice.cli.output import output_option, print_json, print_mapping, print_rows
from sluice.cli.store_access import open_store
from sluice.config import Settings
from sluice.core.errors import SluiceError
from sluice.store import pools, schema
from sluice.store.audit import log_event
from sluice.store.cleanup import clean
from sluice.store.engine import Store


@contextmanager
def _opened(settings: Settings, *, check: bool = True) -> Iterator[Store]:
    store = open_store(settings, check=check)
    try:
        yield store
    finally:
        store.dispose()


def _url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=True)


def _owner() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return None


def _default_pool_slots(settings: Settings) -> int:
    return settings.get_int("scheduler", "default_pool_slots")


@click.group("db")
def db_group() -> None:
    """Create, upgrade, check, reset and clean the metadata database."""


@db_group.command("migrate")
def migrate_db() -> None:
    """Create the database schema or upgrade it.

    Brings the schema to this Sluice's newest revision, and adds default_pool (with
    [scheduler] default_pool_slots slots) when it is missing. With [core] load_examples on,
    creates the example DAGs' connections that do not exist.
    """
    settings = cli_settings()
    with _opened(settings, check=False) as store:
        result = schema.migrate(store, default_pool_slots=_default_pool_slots(settings))
        ensure_example_connections(settings, store)
        if result.changed:
            click.echo(
                f"Migrated {_url(store)} from {result.before or '(empty)'} to {result.after}."
            )
        else:
            click.echo(f"{_url(store)} is already at revision {result.after}; nothing to do.")


@db_group.command("check")
@output_option()
def check_db(output: str) -> None:
    """Show the schema's revision; exit 1 if it is not current."""
    with _opened(cli_settings(), check=False) as store:
        status = schema.check(store)
    data: dict[str, Any] = {
        "url": status.url,
        "current_revision": status.current,
        "head_revision": status.head,
        "up_to_date": status.up_to_date,
        "missing_tables": list(status.missing_tables),
    }
    print_mapping(data, output)
    if status.up_to_date:
        return
    if status.current is None:
        raise SluiceError(f"{status.url} has no Sluice schema; run `sluice db migrate`")
    if status.current != status.head:
        raise SluiceError(
            f"{status.url} is at revision {status.current}, this Sluice needs {status.head};"
            " run `sluice db migrate`"
        )
    raise SluiceError(
        f"{status.url} is at revision {status.current} but lacks the tables "
        f"{', '.join(status.missing_tables)}; back it up and run `sluice db reset --yes`"
    )


@db_group.command("reset")
@click.option("--yes", "-y", is_flag=True, help="Confirm: every row of every table is deleted.")
def reset_db(yes: bool) -> None:
    """Delete everything: drop every table, migrate again."""
    settings = cli_settings()
    with _opened(settings, check=False) as store:
        if not yes:
            raise SluiceError(
                f"`db reset` deletes everything in {_url(store)} (runs, task instances, "
                "variables, connections, users); add --yes to do it"
            )
        result = schema.reset(store, default_pool_slots=_default_pool_slots(settings))
        click.echo(f"Reset {_url(store)}: every table is empty, at revision {result.after}.")


@db_group.command("clean")
@click.option(
    "--older-than",
    required=True,
    metavar="DATE",
    callback=parse_datetime,
    help="Delete finished runs that ended before this ISO date or datetime "
    "(read in [core] default_timezone without an offset).",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@click.option("--yes", "-y", is_flag=True, help="Confirm the deletion.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Runs deleted per transaction.",
)
@output_option()
def clean_db(older_than: datetime, dry_run: bool, yes: bool, batch_size: int, output: str) -> None:
    """Delete old finished runs, their tasks and logs.

    Deletes the runs that ended (success or failed) before DATE, with their task instances,
    tries, XComs and log folders, in batches of one transaction each. Runs still queued or
    running, and runs with a task still at work, are never deleted.
    """
    settings = cli_settings()
    cutoff = in_default_timezone(older_than, settings) or older_than
    if cutoff > datetime.now(UTC):
        raise SluiceError(
            f"--older-than {cutoff.isoformat()} is in the future; give a date in the past"
        )
    if not (yes or dry_run):
        raise SluiceError(
            f"`db clean` deletes runs that ended before {cutoff.isoformat()}; add --yes to "
            "do it, or --dry-run to count them first"
        )
    with _opened(settings) as store:
        result = clean(
            store,
            cutoff,
            dry_run=dry_run,
            batch_size=batch_size,
            log_folder=settings.base_log_folder,
        )
        if not dry_run:
            with store.transaction() as session:
                extra = {"older_than": cutoff.isoformat(), **result.as_dict()}
                log_event(session, "cli_db_clean", _owner(), extra=extra)
    counts = result.as_dict()
    if output == "json":
        print_json({"dry_run": dry_run, "older_than": cutoff, "counts": counts})
        return
    rows = [{"table": name, "rows": n} for name, n in counts.items() if name != "batches"]
    if output == "table":
        verb = "Would delete" if dry_run else "Deleted"
        click.echo(f"{verb} what ended before {cutoff.isoformat()}:")
    print_rows(rows, ["table", "rows"], output, empty="")


@click.group("pools")
def pools_group() -> None:
    """List, set and delete pools, which limit how many task instances run at once."""


@pools_group.command("list")
@output_option()
def list_pools(output: str) -> None:
    """List the pools and their slots in use.

    Slots taken by running and queued task instances, wanted by scheduled ones (waiting
    for a slot), and open.
    """
    with _opened(cli_settings()) as store, store.transaction() as session:
        usages = pools.list_pools(session)
    rows = [
        {
            "pool": usage.name,
            "slots": usage.slots,
            "running": usage.running,
            "queued": usage.queued,
            "occupied": usage.occupied,
            "scheduled": usage.scheduled,
            "open": usage.open,
            "description": usage.description,
        }
        for usage in usages
    ]
    columns = ["pool", "slots", "running", "queued", "scheduled", "open", "description"]
    print_rows(rows, columns, output, empty="No pools.")


@pools_group.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("slots", type=click.IntRange(min=0))
@click.option("--description", "-d", default=None, help="What the pool is for.")
def set_pool(name: str, slots: int, description: str | None) -> None:
    """Create or change a pool: NAME gets SLOTS slots.

    Without --description, an existing pool keeps its description.
    """
    with _opened(cli_settings()) as store, store.transaction() as session:
        created = pools.get_pool(session, name) is None
        pools.set_pool(session, name, slots, description)
        extra = {"pool": name, "slots": slots, "description": description}
        log_event(session, "cli_pools_set", _owner(), extra=extra)
    noun = "slot" if slots == 1 else "slots"
    click.echo(f"Pool '{name}' {'created' if created else 'set'}: {slots} {noun}.")


@pools_group.command("delete")
@click.argument("name")
def delete_pool(name: str) -> None:
    """Delete a pool.

    default_pool cannot be deleted, nor a pool with task instances queued or running in it.
    """
    with _opened(cli_settings()) as store, store.transaction() as session:
        pools.delete_pool(session, name)
        log_event(session, "cli_pools_delete", _owner(), extra={"pool": name})
    click.echo(f"Pool '{name}' deleted.")
