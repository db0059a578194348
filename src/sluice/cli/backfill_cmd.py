"""Backfills: `sluice dags backfill` writes the request, the scheduler carries it out.

`sluice backfills list/pause/unpause/cancel` manage the requests. Without --detach the
command follows its backfill with a progress bar until it completes; Ctrl-C leaves it
running.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sluice.actions.common import check_conf, load_stored_dag
from sluice.actions.run_plans import PlannedRun, backfill_plan
from sluice.cli.arguments import conf_option, parse_datetime
from sluice.cli.output import console, output_option, print_rows, warn
from sluice.cli.stored_dags import (
    CommandRefused,
    opened_store,
    record_action,
    utc,
)
from sluice.core.states import DagRunState
from sluice.store import backfills
from sluice.store.engine import Store
from sluice.store.run_queries import get_dag, runs_between
from sluice.store.tables import Backfill
from sluice.store.transitions import now

F = TypeVar("F", bound=Callable[..., Any])

POLL_SECONDS = 1.0
"""How often the progress bar reads the database (a UI, not the scheduler's path)."""

_FINISHED = (DagRunState.SUCCESS.value, DagRunState.FAILED.value)


@click.group("backfills")
def backfills_group() -> None:
    """List, pause, unpause and cancel backfills."""


def _date_option(name: str, short: str, help_text: str) -> Callable[[F], F]:
    return click.option(
        name, short, required=True, metavar="DATETIME", callback=parse_datetime, help=help_text
    )


@click.command("backfill")
@click.argument("dag_id")
@_date_option("--start-date", "-s", "First logical date (naive means [core] default_timezone).")
@_date_option("--end-date", "-e", "Last logical date, included.")
@click.option("--reset-dagruns", is_flag=True, help="Clear the finished runs already there.")
@click.option(
    "--rerun-failed-tasks", is_flag=True, help="Rerun the failed tasks of failed runs there."
)
@click.option("--dry-run", is_flag=True, help="List the runs it would create; change nothing.")
@click.option(
    "--max-active-runs",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Most runs of this backfill running at once.",
)
@click.option("--detach", is_flag=True, help="Return at once instead of following progress.")
@click.option("--yes", "-y", is_flag=True, help="Go on even above the confirmation threshold.")
@conf_option
@output_option()
def backfill(
    dag_id: str,
    start_date: datetime,
    end_date: datetime,
    reset_dagruns: bool,
    rerun_failed_tasks: bool,
    dry_run: bool,
    max_active_runs: int,
    detach: bool,
    yes: bool,
    conf: dict[str, Any] | None,
    output: str,
) -> None:
    """Run DAG_ID for every interval with a logical date from --start-date to --end-date.

    The backfill is a request in the database that the scheduler carries out, at most
    --max-active-runs runs at a time, so it goes on when this command exits. It never
    creates a second run for a logical date: runs already there are skipped unless
    --reset-dagruns (or --rerun-failed-tasks for failed ones); queued and running runs
    are never touched. Above [scheduler] catchup_confirm_threshold runs it needs --yes.
    --output applies to --dry-run's list.
    """
    with opened_store() as (settings, store):
        with store.transaction() as session:
            get_dag(session, dag_id)
            dag = load_stored_dag(session, dag_id)
            check_conf(dag, conf, label="--conf")
            start, end = utc(start_date, settings), utc(end_date, settings)
            plan = backfill_plan(
                dag,
                runs_between(session, dag_id, start, end),
                start=start,
                end=end,
                reset_dagruns=reset_dagruns,
                rerun_failed_tasks=rerun_failed_tasks,
                now=now(),
            )
            if dry_run:
                _print_plan(plan, output)
                return
            acting = [p for p in plan if p.acts]
            if not acting:
                click.echo(
                    f"Nothing to backfill: DAG '{dag_id}' already has all {len(plan)} runs"
                    " from the start to the end date (--reset-dagruns runs them again)."
                )
                return
            threshold = settings.get_int("scheduler", "catchup_confirm_threshold")
            if len(acting) > threshold and not yes:
                raise CommandRefused(
                    f"the backfill runs DAG '{dag_id}' {len(acting)} times, logical dates"
                    f" {_span(acting)}: more than [scheduler] catchup_confirm_threshold"
                    f" ({threshold}). Check with --dry-run, then add --yes"
                )
            request = backfills.create_backfill(
                session,
                dag_id=dag_id,
                from_date=start,
                to_date=end,
                reset_dagruns=reset_dagruns,
                rerun_failed_tasks=rerun_failed_tasks,
                max_active_runs=max_active_runs,
                conf=conf,
            )
            record_action(
                session, "dags_backfill", dag_id=dag_id, extra=_request_extra(request, len(acting))
            )
            backfill_id = request.id
        skipped = len(plan) - len(acting)
        click.echo(
            f"Backfill {backfill_id} of DAG '{dag_id}': {len(acting)} runs, logical dates"
            f" {_span(acting)}, at most {max_active_runs} at a time"
            + (f" ({skipped} already there, skipped)." if skipped else ".")
        )
        if detach:
            click.echo(
                f"The scheduler carries it out; follow it with `sluice backfills list"
                f" --dag-id {dag_id}`."
            )
            return
        _follow(store, backfill_id, len(acting))


def _span(plan: list[PlannedRun]) -> str:
    first, last = plan[0].info.logical_date, plan[-1].info.logical_date
    return first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"


def _request_extra(request: Backfill, runs: int) -> dict[str, Any]:
    return {
        "backfill_id": request.id,
        "from_date": request.from_date.isoformat(),
        "to_date": request.to_date.isoformat(),
        "runs": runs,
        "reset_dagruns": request.reset_dagruns,
        "rerun_failed_tasks": request.rerun_failed_tasks,
    }


def _print_plan(plan: list[PlannedRun], output: str) -> None:
    rows = [
        {
            "logical_date": p.info.logical_date,
            "data_interval_start": p.info.data_interval.start,
            "data_interval_end": p.info.data_interval.end,
            "existing_run_id": p.existing.run_id if p.existing else None,
            "existing_state": p.existing.state if p.existing else None,
            "action": p.action,
        }
        for p in plan
    ]
    columns = [
        "logical_date",
        "data_interval_start",
        "data_interval_end",
        "existing_run_id",
        "existing_state",
        "action",
    ]
    print_rows(rows, columns, output, empty="No runs.")
    if output != "json":
        acting = sum(1 for p in plan if p.acts)
        click.echo(f"Dry run: {acting} of {len(plan)} runs would be created or rerun.", err=True)


def _follow(store: Store, backfill_id: int, total: int) -> None:
    """Show the backfill's progress until it completes or is cancelled; Ctrl-C detaches."""
    warn(
        "The scheduler carries the backfill out (is `sluice scheduler` running?)."
        " Ctrl-C stops following; the backfill goes on."
    )
    columns = (
        TextColumn("[bold]backfill {task.fields[backfill_id]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[states]}"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console(err=True), transient=False) as bar:
            task = bar.add_task("", total=total, backfill_id=backfill_id, states="")
            while True:
                with store.transaction() as session:
                    request = backfills.get_backfill(session, backfill_id)
                    state = request.state
                    counts = backfills.run_states(session, [backfill_id])[backfill_id]
                done = sum(counts.get(s, 0) for s in _FINISHED)
                bar.update(task, completed=min(done, total), states=_states_text(counts, state))
                if state in (backfills.COMPLETED, backfills.CANCELLED):
                    break
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        click.echo(
            f"Stopped following backfill {backfill_id}; it goes on"
            f" (`sluice backfills cancel {backfill_id}` stops it).",
            err=True,
        )
        return
    failed = counts.get(DagRunState.FAILED.value, 0)
    click.echo(f"Backfill {backfill_id} {state}: {_states_text(counts, None) or 'no runs'}.")
    if failed or state == backfills.CANCELLED:
        raise click.exceptions.Exit(1)


def _states_text(counts: Mapping[str, int], state: str | None) -> str:
    parts = [f"{counts[s]} {s}" for s in sorted(counts)]
    if state and state != backfills.RUNNING:
        parts.append(f"backfill {state}")
    return ", ".join(parts)


@backfills_group.command("list")
@click.option("--dag-id", "-d", default=None, help="Only the backfills of this DAG.")
@output_option()
def list_backfills(dag_id: str | None, output: str) -> None:
    """List backfills, newest first, with how many of their runs are in each state."""
    with opened_store() as (_, store), store.transaction() as session:
        if dag_id is not None:
            get_dag(session, dag_id)
        requests = backfills.list_backfills(session, dag_id)
        counts = backfills.run_states(session, [b.id for b in requests])
    rows = [_backfill_row(b, counts[b.id]) for b in requests]
    columns = ["id", "dag_id", "state", "from_date", "to_date", "max_active_runs", "runs"]
    which = f" of DAG '{dag_id}'" if dag_id else ""
    print_rows(rows, columns, output, empty=f"No backfills{which}.")


def _backfill_row(request: Backfill, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": request.id,
        "dag_id": request.dag_id,
        "state": request.state,
        "from_date": request.from_date,
        "to_date": request.to_date,
        "max_active_runs": request.max_active_runs,
        "reset_dagruns": request.reset_dagruns,
        "rerun_failed_tasks": request.rerun_failed_tasks,
        "runs": _states_text(counts, None) if counts else "",
        "run_states": counts,
        "created_at": request.created_at,
        "completed_at": request.completed_at,
    }


def _change(backfill_id: int, event: str) -> Backfill:
    with opened_store() as (_, store), store.transaction() as session:
        if event == "pause":
            request = backfills.pause_backfill(session, backfill_id)
        elif event == "unpause":
            request = backfills.unpause_backfill(session, backfill_id)
        else:
            request, failed = backfills.cancel_backfill(session, backfill_id)
            if failed:
                click.echo(f"{failed} queued runs of backfill {backfill_id} failed.")
        record_action(
            session,
            f"backfills_{event}",
            dag_id=request.dag_id,
            extra={"backfill_id": backfill_id},
        )
    return request


@backfills_group.command("pause")
@click.argument("backfill_id", type=int)
def pause_backfill(backfill_id: int) -> None:
    """Pause backfill BACKFILL_ID: no new runs start; those running finish."""
    request = _change(backfill_id, "pause")
    click.echo(f"Backfill {backfill_id} of DAG '{request.dag_id}' paused.")


@backfills_group.command("unpause")
@click.argument("backfill_id", type=int)
def unpause_backfill(backfill_id: int) -> None:
    """Carry on with paused backfill BACKFILL_ID."""
    request = _change(backfill_id, "unpause")
    click.echo(f"Backfill {backfill_id} of DAG '{request.dag_id}' unpaused.")


@backfills_group.command("cancel")
@click.argument("backfill_id", type=int)
def cancel_backfill(backfill_id: int) -> None:
    """Cancel backfill BACKFILL_ID for good: its queued runs fail, running ones finish."""
    request = _change(backfill_id, "cancel")
    click.echo(f"Backfill {backfill_id} of DAG '{request.dag_id}' cancelled.")
