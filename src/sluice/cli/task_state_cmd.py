"""Task instances in the database: their states, clearing them, and why one is not running."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from sluice.actions.clearing import apply_clear, pick_tasks, plan_clear
from sluice.actions.common import load_stored_dag
from sluice.cli.arguments import parse_datetime
from sluice.cli.output import output_option, print_mapping, print_rows, warn
from sluice.cli.stored_dags import (
    CommandRefused,
    cli_actor,
    instance_row,
    opened_store,
    to_utc,
)
from sluice.cli.task_deps import unmet_dependencies
from sluice.store.run_queries import (
    get_dag,
    get_run,
    get_task_instance,
    run_task_instances,
)
from sluice.store.transitions import now

_map_index_option = click.option(
    "--map-index",
    "-m",
    type=click.IntRange(min=-1),
    default=None,
    help="The map index of a mapped task's instance.",
)


@click.command("states-for-dag-run")
@click.argument("dag_id")
@click.argument("run_id")
@output_option()
def states_for_dag_run(dag_id: str, run_id: str, output: str) -> None:
    """List the task instances of one run of DAG_ID with their states."""
    with opened_store() as (_, store), store.transaction() as session:
        run = get_run(session, dag_id, run_id)
        rows = [instance_row(ti) for ti in run_task_instances(session, dag_id, run.run_id)]
    columns = ["task_id", "map_index", "state", "try_number", "start_date", "end_date", "duration"]
    print_rows(rows, columns, output, empty=f"Run '{run_id}' has no task instances.")


@click.command("state")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("run_id")
@_map_index_option
@output_option()
def task_state(dag_id: str, task_id: str, run_id: str, map_index: int | None, output: str) -> None:
    """Show the state of one task instance (`-o plain` prints the state alone)."""
    with opened_store() as (_, store), store.transaction() as session:
        ti = get_task_instance(session, get_run(session, dag_id, run_id), task_id, map_index)
        row = instance_row(ti)
    if output == "plain":
        click.echo(row["state"])
        return
    print_mapping(row, output)


@click.command("clear")
@click.argument("dag_id")
@click.option("--task-regex", "-t", default=None, help="Only tasks whose id matches (re.search).")
@click.option("--downstream", "-d", is_flag=True, help="Add the tasks downstream of those.")
@click.option("--upstream", "-u", is_flag=True, help="Add the tasks upstream of those.")
@click.option("--only-failed", "-f", is_flag=True, help="Only failed and upstream_failed ones.")
@click.option(
    "--start-date",
    "-s",
    default=None,
    metavar="DATETIME",
    callback=parse_datetime,
    help="Only runs with a logical date from this one (naive means [core] default_timezone).",
)
@click.option(
    "--end-date",
    "-e",
    default=None,
    metavar="DATETIME",
    callback=parse_datetime,
    help="Only runs with a logical date up to this one, included.",
)
@click.option("--dry-run", is_flag=True, help="List what would be cleared; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Clear without asking; required to clear.")
@output_option()
def clear(
    dag_id: str,
    task_regex: str | None,
    downstream: bool,
    upstream: bool,
    only_failed: bool,
    start_date: datetime | None,
    end_date: datetime | None,
    dry_run: bool,
    yes: bool,
    output: str,
) -> None:
    """Clear task instances of DAG_ID so that the scheduler runs them again.

    Lists the instances first. A cleared instance gets its task's retries again; a
    finished run with cleared instances goes back to queued. Running instances are left
    alone. Nothing changes without --yes.
    """
    with opened_store() as (settings, store), store.transaction() as session:
        get_dag(session, dag_id)
        tasks = (
            None if task_regex is None else pick_tasks(load_stored_dag(session, dag_id), task_regex)
        )
        plan = plan_clear(
            session, dag_id, tasks, downstream=downstream, upstream=upstream,
            only_failed=only_failed, start=to_utc(start_date, settings),
            end=to_utc(end_date, settings),
        )  # fmt: skip
        rows = [{**instance_row(ti), "logical_date": run.logical_date} for ti, run in plan.chosen]
        columns = ["run_id", "logical_date", "task_id", "map_index", "state", "try_number"]
        if plan.external:  # ExternalTaskMarker tasks reach into other DAGs
            columns.insert(0, "dag_id")
        print_rows(rows, columns, output, empty="Nothing to clear.")
        for note in plan.notes:
            warn(note)
        if plan.running:
            warn(
                f"{len(plan.running)} running task instances are left alone: a running"
                " instance cannot be cleared (mark it failed first)"
            )
        if not plan.chosen or dry_run:
            if plan.chosen:
                click.echo(
                    f"Dry run: {len(plan.chosen)} task instances would be cleared.", err=True
                )
            return
        if not yes:
            raise CommandRefused(
                f"add --yes to clear these {len(plan.chosen)} task instances of DAG '{dag_id}'"
            )
        result = apply_clear(session, cli_actor(), plan)
    requeued = len(result.requeued_runs)
    click.echo(
        f"Cleared {len(result.cleared)} task instances"
        + (f"; {requeued} finished runs are queued again." if requeued else ".")
    )


@click.command("failed-deps")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("run_id")
@_map_index_option
@output_option()
def failed_deps(dag_id: str, task_id: str, run_id: str, map_index: int | None, output: str) -> None:
    """Say why a task instance is not running: each dependency that is not met."""
    with opened_store() as (_, store), store.transaction() as session:
        dag_row = get_dag(session, dag_id)
        dag = load_stored_dag(session, dag_id)
        run = get_run(session, dag_id, run_id)
        ti = get_task_instance(session, run, task_id, map_index)
        unmet = unmet_dependencies(session, dag_row, dag, run, ti, now=now())
    rows: list[dict[str, Any]] = [{"dependency": u.dependency, "reason": u.reason} for u in unmet]
    if output == "json":
        print_rows(rows, ["dependency", "reason"], output, empty="")
        return
    label = task_id if ti.map_index < 0 else f"{task_id}[{ti.map_index}]"
    if not rows:
        click.echo(
            f"Every dependency of {label} in run '{run_id}' is met: the scheduler queues it"
            " at its next pass (is `sluice scheduler` running?)."
        )
        return
    title = f"{label} in run '{run_id}' does not run because:"
    print_rows(rows, ["dependency", "reason"], output, empty="", title=title)
