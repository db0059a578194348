"""DAG runs from the command line: trigger, list-runs, state, delete, pause and unpause."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from sluice.actions.dags import CatchupNeedsConfirmation, delete_dag, set_paused
from sluice.actions.dags import unpause as unpause_dag
from sluice.actions.runs import trigger_run
from sluice.cli.arguments import conf_option, parse_datetime
from sluice.cli.output import output_option, print_mapping, print_rows, warn
from sluice.cli.stored_dags import (
    CommandRefused,
    cli_actor,
    opened_store,
    run_choice,
    run_row,
    to_utc,
)
from sluice.store.run_queries import get_dag, get_run, list_runs, state_counts


@click.command("trigger")
@click.argument("dag_id")
@conf_option
@click.option(
    "--logical-date",
    "-l",
    default=None,
    metavar="DATETIME",
    callback=parse_datetime,
    help="The run's logical date (naive means [core] default_timezone). Default: now.",
)
@click.option("--run-id", "-r", default=None, help="The run's id. Default: manual__<logical date>.")
@output_option()
def trigger(
    dag_id: str,
    conf: dict[str, Any] | None,
    logical_date: datetime | None,
    run_id: str | None,
    output: str,
) -> None:
    """Create a manual run of DAG_ID; the scheduler runs it.

    The conf is checked against the DAG's params. The data interval is the one the DAG's
    schedule gives a manual run at the logical date. A run id or a logical date that the
    DAG already has a run for is refused.
    """
    with opened_store() as (settings, store), store.transaction() as session:
        when = to_utc(logical_date, settings)
        run = trigger_run(session, cli_actor(), dag_id, conf=conf, logical_date=when, run_id=run_id)
        paused = get_dag(session, dag_id).is_paused
    print_mapping({**run_row(run), "conf": conf or {}}, output)
    if paused:
        warn(
            f"DAG '{dag_id}' is paused: the run waits in the queue until you unpause it"
            f" (`sluice dags unpause {dag_id}`)"
        )


@click.command("pause")
@click.argument("dag_id")
def pause(dag_id: str) -> None:
    """Pause DAG_ID: the scheduler creates and starts no more of its runs."""
    with opened_store() as (_, store), store.transaction() as session:
        changed = set_paused(session, cli_actor(), dag_id, True)
    click.echo(f"DAG '{dag_id}' {'paused' if changed else 'was already paused'}.")


@click.command("unpause")
@click.argument("dag_id")
@click.option("--yes", "-y", is_flag=True, help="Unpause even if catchup creates many runs.")
def unpause(dag_id: str, yes: bool) -> None:
    """Unpause DAG_ID: the scheduler creates its runs again.

    For a DAG with catchup=True, the runs of every interval missed since its last run
    are created at once. When they are more than [scheduler] catchup_confirm_threshold
    (default 50), the command says how many and which dates, and needs --yes.
    """
    with opened_store() as (settings, store), store.transaction() as session:
        threshold = settings.get_int("scheduler", "catchup_confirm_threshold")
        try:
            preview = unpause_dag(session, cli_actor(), dag_id, threshold=threshold, confirmed=yes)
        except CatchupNeedsConfirmation as exc:
            raise CommandRefused(
                f"{exc}. Add --yes to unpause anyway, or backfill a smaller range with"
                " `sluice dags backfill`"
            ) from None
    if preview is None:
        click.echo(f"DAG '{dag_id}' was not paused.")
        return
    click.echo(f"DAG '{dag_id}' unpaused.")
    if preview.summary:
        warn(f"Catchup creates {preview.summary}.")


@click.command("list-runs")
@click.argument("dag_id")
@click.option("--state", "-s", type=run_choice(), default=None, help="Only runs in this state.")
@output_option()
def list_dag_runs(dag_id: str, state: str | None, output: str) -> None:
    """List the runs of DAG_ID, newest logical date first."""
    with opened_store() as (_, store), store.transaction() as session:
        get_dag(session, dag_id)
        rows = [run_row(run) for run in list_runs(session, dag_id, state=state)]
    columns = ["run_id", "state", "run_type", "logical_date", "start_date", "end_date", "duration"]
    which = f" in state {state}" if state else ""
    print_rows(rows, columns, output, empty=f"DAG '{dag_id}' has no runs{which}.")


@click.command("state")
@click.argument("dag_id")
@click.argument("run_id")
@output_option()
def run_state(dag_id: str, run_id: str, output: str) -> None:
    """Show the state of one run of DAG_ID (`-o plain` prints the state alone)."""
    with opened_store() as (_, store), store.transaction() as session:
        run = get_run(session, dag_id, run_id)
        counts = state_counts(session, dag_id, run_id)
    if output == "plain":
        click.echo(run.state)
        return
    data = {**run_row(run), "conf": json.loads(run.conf or "{}"), "task_states": counts}
    print_mapping(data, output)


@click.command("delete")
@click.argument("dag_id")
@click.option("--yes", "-y", is_flag=True, help="Really delete; required.")
def delete(dag_id: str, yes: bool) -> None:
    """Delete DAG_ID from the database with all its history.

    Its runs, task instances, tries, XComs, backfills and serialized form go; the audit
    log stays. The DAG file is not touched: while it is in the DAGs folder, the DAG
    processor adds the DAG back (with no history) at its next parse.
    """
    with opened_store() as (_, store), store.transaction() as session:
        get_dag(session, dag_id)
        if not yes:
            raise CommandRefused(
                f"deleting DAG '{dag_id}' removes all its runs and history; add --yes to do it"
            )
        fileloc, counts = delete_dag(session, cli_actor(), dag_id)
    runs, instances = counts.get("dag_run", 0), counts.get("task_instance", 0)
    click.echo(f"DAG '{dag_id}' deleted, with {runs} runs and {instances} task instances.")
    if fileloc and Path(fileloc).exists():
        warn(
            f"Its file {fileloc} is still there: the DAG processor adds the DAG back at its"
            " next parse. Remove the file (or the DAG from it) to delete the DAG for good."
        )
