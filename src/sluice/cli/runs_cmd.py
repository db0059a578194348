"""DAG runs from the command line: trigger, list-runs, state, delete, pause and unpause."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from sluice.cli.arguments import conf_option, parse_datetime
from sluice.cli.output import output_option, print_mapping, print_rows, warn
from sluice.cli.run_plans import catchup_plan
from sluice.cli.stored_dags import (
    CommandRefused,
    check_conf,
    load_stored_dag,
    opened_store,
    record_action,
    run_choice,
    run_row,
    to_utc,
)
from sluice.core.errors import DagNotFound
from sluice.scheduler.runs import create_dag_run, make_run_id
from sluice.store.dag_admin import delete_dag, set_paused
from sluice.store.run_queries import (
    find_clash,
    get_dag,
    get_run,
    latest_automated_run,
    list_runs,
    state_counts,
)
from sluice.store.tables import ID, Dag, DagRun
from sluice.store.transitions import now

# Airflow's default [scheduler] allowed_run_id_pattern.
_RUN_ID = re.compile(r"^[A-Za-z0-9_.~:+-]+$")


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
        dag_row = get_dag(session, dag_id)
        dag = load_stored_dag(session, dag_id)
        check_conf(dag, conf)
        when = to_utc(logical_date, settings) or now()
        run_id = _check_run_id(run_id) if run_id is not None else make_run_id("manual", when)
        _refuse_clash(find_clash(session, dag_id, run_id, when), dag_id, run_id, when)
        interval = dag.timetable.infer_manual_data_interval(run_after=when)
        run = create_dag_run(
            session,
            dag,
            run_type="manual",
            logical_date=when,
            data_interval=(interval.start, interval.end),
            conf=conf,
            run_id=run_id,
        )
        record_action(session, "dags_trigger", dag_id=dag_id, run_id=run_id, extra=conf)
        paused = dag_row.is_paused
    print_mapping({**run_row(run), "conf": conf or {}}, output)
    if paused:
        warn(
            f"DAG '{dag_id}' is paused: the run waits in the queue until you unpause it"
            f" (`sluice dags unpause {dag_id}`)"
        )


def _check_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise CommandRefused(
            f"run id {run_id!r} may hold only letters, digits and _ . ~ : + - (and not be empty)"
        )
    if len(run_id) > ID:
        raise CommandRefused(f"run id is {len(run_id)} characters long; at most {ID} are allowed")
    return run_id


def _refuse_clash(clash: DagRun | None, dag_id: str, run_id: str, when: datetime) -> None:
    if clash is None:
        return
    if clash.run_id == run_id:
        raise CommandRefused(
            f"DAG '{dag_id}' already has a run with run id '{run_id}' ({clash.state});"
            " give another --run-id"
        )
    raise CommandRefused(
        f"DAG '{dag_id}' already has a run at logical date {when.isoformat()}:"
        f" '{clash.run_id}' ({clash.state}); give another --logical-date, or clear that run"
        f" with `sluice tasks clear {dag_id}`"
    )


@click.command("pause")
@click.argument("dag_id")
def pause(dag_id: str) -> None:
    """Pause DAG_ID: the scheduler creates and starts no more of its runs."""
    with opened_store() as (_, store), store.transaction() as session:
        changed = set_paused(session, dag_id, True)
        if changed:
            record_action(session, "dags_pause", dag_id=dag_id)
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
        dag_row = get_dag(session, dag_id)
        if not dag_row.is_paused:
            click.echo(f"DAG '{dag_id}' was not paused.")
            return
        threshold = settings.get_int("scheduler", "catchup_confirm_threshold")
        note = _catchup_note(session, dag_row, threshold=threshold, yes=yes)
        set_paused(session, dag_id, False)
        record_action(
            session, "dags_unpause", dag_id=dag_id, extra={"catchup": note} if note else None
        )
    click.echo(f"DAG '{dag_id}' unpaused.")
    if note:
        warn(f"Catchup creates {note}.")


def _catchup_note(session: Session, dag_row: Dag, *, threshold: int, yes: bool) -> str:
    """How many runs unpausing creates at once, and which; refused above the threshold."""
    try:
        dag = load_stored_dag(session, dag_row.dag_id)
    except DagNotFound:
        return ""  # Never parsed (an import error): no run can be created yet.
    last = latest_automated_run(session, dag_row.dag_id)
    plan = catchup_plan(
        dag,
        next_logical_date=dag_row.next_dagrun,
        last_logical_date=last.logical_date if last else None,
        now=now(),
        threshold=threshold,
    )
    if not (plan.first and plan.last):
        return ""
    many = f"more than {plan.count}" if plan.capped else str(plan.count)
    note = (
        f"{many} runs, logical dates {plan.first.logical_date.isoformat()} to"
        f" {plan.last.logical_date.isoformat()}"
    )
    if plan.count > threshold and not yes:
        raise CommandRefused(
            f"unpausing DAG '{dag_row.dag_id}' starts catchup: {note}, more than [scheduler]"
            f" catchup_confirm_threshold ({threshold}). Add --yes to unpause anyway, or"
            " backfill a smaller range with `sluice dags backfill`"
        )
    return note


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
        dag_row = get_dag(session, dag_id)
        if not yes:
            raise CommandRefused(
                f"deleting DAG '{dag_id}' removes all its runs and history; add --yes to do it"
            )
        fileloc = dag_row.fileloc
        counts = delete_dag(session, dag_id)
        record_action(session, "dags_delete", dag_id=dag_id, extra=counts)
    runs, instances = counts.get("dag_run", 0), counts.get("task_instance", 0)
    click.echo(f"DAG '{dag_id}' deleted, with {runs} runs and {instances} task instances.")
    if fileloc and Path(fileloc).exists():
        warn(
            f"Its file {fileloc} is still there: the DAG processor adds the DAG back at its"
            " next parse. Remove the file (or the DAG from it) to delete the DAG for good."
        )
