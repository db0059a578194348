"""``sluice dags``: list DAGs and import errors, show a DAG, its details and next runs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from sluice.cli.arguments import dags_folder_option, parse_datetime
from sluice.cli.dag_test import test_dag
from sluice.cli.graph import to_dot, tree_lines
from sluice.cli.lazy import LazyGroup
from sluice.cli.loading import (
    cli_settings,
    in_default_timezone,
    list_errors_command,
    load_bag,
    load_dag,
)
from sluice.cli.output import output_option, print_json, print_mapping, print_rows, warn
from sluice.core.errors import SluiceError
from sluice.sdk.dag import DAG
from sluice.sdk.schedules import ContinuousTimetable, NullTimetable, iter_dagrun_infos


@click.group(
    "dags",
    cls=LazyGroup,
    lazy={
        "backfill": "sluice.cli.backfill_cmd:backfill",
        "delete": "sluice.cli.runs_cmd:delete",
        "list-runs": "sluice.cli.runs_cmd:list_dag_runs",
        "pause": "sluice.cli.runs_cmd:pause",
        "report": "sluice.cli.processor_cmd:dags_report",
        "state": "sluice.cli.runs_cmd:run_state",
        "trigger": "sluice.cli.runs_cmd:trigger",
        "unpause": "sluice.cli.runs_cmd:unpause",
    },
)
def dags_group() -> None:
    """List, inspect and test DAGs."""


dags_group.add_command(test_dag)


@dags_group.command("list")
@output_option()
@dags_folder_option
def list_dags(output: str, dags_folder: Path | None) -> None:
    """List the DAGs.

    The DAGs of the DAGs folder, and the examples if [core] load_examples is on.
    Import errors are counted on stderr; see list-import-errors.
    """
    settings = cli_settings(dags_folder)
    bag = load_bag(settings)
    rows = [
        {
            "dag_id": dag.dag_id,
            "fileloc": dag.fileloc,
            "owners": dag.owner,
            "schedule": _schedule(dag, as_json=output == "json"),
            "tags": dag.tags,
            "tasks": len(dag.task_dict),
        }
        for dag in sorted(bag.dags.values(), key=lambda d: d.dag_id)
    ]
    columns = ["dag_id", "fileloc", "owners", "schedule", "tags", "tasks"]
    print_rows(rows, columns, output, empty="No DAGs found.")
    errors = len(bag.import_errors)
    if errors:
        noun = "import error" if errors == 1 else "import errors"
        warn(f"{errors} {noun}; see `{list_errors_command(settings)}`")


@dags_group.command("list-import-errors")
@output_option()
@dags_folder_option
def list_import_errors(output: str, dags_folder: Path | None) -> None:
    """List the DAG files that failed to import, and why.

    The JSON output adds the DAG id (when known) and the traceback.
    """
    bag = load_bag(cli_settings(dags_folder))
    rows = [
        {
            "file": str(error.file),
            "line": error.line,
            "dag_id": error.dag_id,
            "message": error.message,
            "traceback": error.traceback,
        }
        for _, error in sorted(bag.import_errors.items(), key=lambda item: str(item[0]))
    ]
    print_rows(rows, ["file", "line", "message"], output, empty="No import errors.")


@dags_group.command("show")
@click.argument("dag_id")
@click.option("--dot", is_flag=True, help="Print Graphviz DOT instead of a text tree.")
@dags_folder_option
def show_dag(dag_id: str, dot: bool, dags_folder: Path | None) -> None:
    """Show a DAG's graph as a text tree or Graphviz DOT.

    \b
    Render the DOT with Graphviz, e.g.:
      sluice dags show my_dag --dot | dot -Tsvg > my_dag.svg
    """
    dag = load_dag(cli_settings(dags_folder), dag_id)
    if dot:
        click.echo(to_dot(dag))
        return
    for line in tree_lines(dag):
        click.echo(line)


@dags_group.command("details")
@click.argument("dag_id")
@output_option()
@dags_folder_option
def dag_details(dag_id: str, output: str, dags_folder: Path | None) -> None:
    """Show every attribute of a DAG."""
    dag = load_dag(cli_settings(dags_folder), dag_id)
    print_mapping(_details(dag, as_json=output == "json"), output)


def _details(dag: DAG, *, as_json: bool) -> dict[str, Any]:
    params = {name: param.dump() for name, param in dag.params.as_plain().items()}
    return {
        "dag_id": dag.dag_id,
        "display_name": dag.dag_display_name,
        "description": dag.description,
        "fileloc": dag.fileloc,
        "owners": dag.owner,
        "tags": dag.tags,
        "schedule": _schedule(dag, as_json=as_json),
        "timetable": type(dag.timetable).__name__,
        "timetable_description": dag.timetable.description,
        "timezone": str(dag.timezone),
        "start_date": dag.start_date_utc,
        "end_date": dag.end_date_utc,
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "max_active_tasks": dag.max_active_tasks,
        "dagrun_timeout": dag.dagrun_timeout if as_json else _text(dag.dagrun_timeout),
        "is_paused_upon_creation": dag.is_paused_upon_creation,
        "params": params if as_json else _params_text(params),
        "default_args": dag.default_args,
        "template_searchpath": dag.template_searchpath,
        "render_template_as_native_obj": dag.render_template_as_native_obj,
        "owner_links": dag.owner_links,
        "doc_md": dag.doc_md,
        "task_count": len(dag.task_dict),
        "task_ids": dag.task_ids,
    }


def _schedule(dag: DAG, *, as_json: bool) -> str | None:
    """The schedule as written; JSON says null for schedule=None, as Airflow's does."""
    if as_json and isinstance(dag.timetable, NullTimetable):
        return None
    return dag.timetable.summary


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _params_text(params: dict[str, dict[str, Any]]) -> str:
    parts = []
    for name, param in params.items():
        default = repr(param["default"]) if param["has_default"] else "(required)"
        extra = [f"{key}={value!r}" for key, value in param["schema"].items()]
        if param["description"]:
            extra.append(param["description"])
        parts.append(f"{name}={default}" + (f" [{'; '.join(extra)}]" if extra else ""))
    return ", ".join(parts)


@dags_group.command("next-execution")
@click.argument("dag_id")
@click.option(
    "-n",
    "--num-executions",
    "count",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many runs to list.",
)
@click.option(
    "--after",
    default=None,
    metavar="DATETIME",
    callback=parse_datetime,
    help="List runs whose logical date is after this date or datetime (naive means"
    " [core] default_timezone)."
    " Default: from the DAG's start_date, as catchup would.",
)
@output_option("table", "json")
@dags_folder_option
def next_execution(
    dag_id: str, count: int, after: datetime | None, output: str, dags_folder: Path | None
) -> None:
    """List the next runs of a DAG's schedule.

    For each run: its logical date, its data interval and when it becomes due (run after).
    """
    settings = cli_settings(dags_folder)
    dag = load_dag(settings, dag_id)
    after = in_default_timezone(after, settings)
    timetable = dag.timetable
    note = None
    runs: list[dict[str, Any]] = []
    if not timetable.can_be_scheduled:
        note = f"DAG '{dag_id}' has no schedule (schedule=None): it runs only when triggered"
    elif isinstance(timetable, ContinuousTimetable):
        note = (
            f"DAG '{dag_id}' runs continuously (@continuous): a new run starts as soon as"
            " the previous one ends"
        )
    else:
        infos = iter_dagrun_infos(
            timetable,
            start_date=_first_start(dag),
            end_date=dag.end_date_utc,
            catchup=True,
            after=after,
            limit=count,
        )
        runs = [
            {
                "logical_date": info.logical_date,
                "data_interval_start": info.data_interval.start,
                "data_interval_end": info.data_interval.end,
                "run_after": info.run_after,
            }
            for info in infos
        ]
        if len(runs) < count:
            since = f" after {after.isoformat()}" if after else ""
            found = {0: "no runs", 1: "only 1 run"}.get(len(runs), f"only {len(runs)} runs")
            note = f"DAG '{dag_id}' ({timetable.summary}) has {found}{since}"
            if dag.end_date is not None:
                note += f" before its end_date {dag.end_date_utc}"
    if output == "json":
        schedule = _schedule(dag, as_json=True)
        print_json({"dag_id": dag_id, "schedule": schedule, "runs": runs, "note": note})
        return
    if runs:
        columns = ["logical_date", "data_interval_start", "data_interval_end", "run_after"]
        title = f"{dag_id}: {timetable.summary} ({timetable.description})"
        print_rows(runs, columns, output, empty="", title=title)
    if note:
        (warn if runs else click.echo)(note)


def _first_start(dag: DAG) -> datetime:
    """The DAG's start_date, else its earliest task start_date (as the scheduler uses)."""
    if dag.start_date_utc is not None:
        return dag.start_date_utc
    starts = [
        start if start.tzinfo else start.replace(tzinfo=UTC)
        for task in dag.tasks
        if isinstance(start := getattr(task, "start_date", None), datetime)
    ]
    if not starts:
        raise SluiceError(f"DAG '{dag.dag_id}' has no start_date: its runs cannot be listed")
    return min(starts)
