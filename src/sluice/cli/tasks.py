"""``sluice tasks``: list a DAG's tasks, test one task, render its templates."""

from __future__ import annotations

import json
import pprint
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from sluice.cli.arguments import conf_option, dags_folder_option, logical_date_argument
from sluice.cli.graph import group_id, operator_name, tree_lines
from sluice.cli.lazy import LazyGroup
from sluice.cli.loading import cli_settings, in_default_timezone, load_dag
from sluice.cli.output import jsonable, output_option, print_json, print_rows
from sluice.cli.progress import (
    RunProgress,
    instance_label,
    make_run,
    state_text,
    store_opener,
    task_logs,
)
from sluice.core.states import TaskInstanceState
from sluice.core.xcom_codec import decode_xcom
from sluice.integrations.masking import redact
from sluice.integrations.runtime import use_store

_OK_STATES = (TaskInstanceState.SUCCESS, TaskInstanceState.SKIPPED)


@click.group(
    "tasks",
    cls=LazyGroup,
    lazy={
        "clear": "sluice.cli.task_state_cmd:clear",
        "failed-deps": "sluice.cli.task_state_cmd:failed_deps",
        "run": "sluice.cli.tasks_run_cmd:run_task",
        "state": "sluice.cli.task_state_cmd:task_state",
        "states-for-dag-run": "sluice.cli.task_state_cmd:states_for_dag_run",
    },
)
def tasks_group() -> None:
    """List, test and render the tasks of a DAG."""


@tasks_group.command("list")
@click.argument("dag_id")
@click.option("--tree", is_flag=True, help="Print the tasks as a dependency tree.")
@output_option()
@dags_folder_option
def list_tasks(dag_id: str, tree: bool, output: str, dags_folder: Path | None) -> None:
    """List the tasks of DAG_ID in dependency order."""
    dag = load_dag(cli_settings(dags_folder), dag_id)
    if tree:
        for line in tree_lines(dag):
            click.echo(line)
        return
    rows = [
        {
            "task_id": task.task_id,
            "operator": operator_name(task),
            "group": group_id(task),
            "upstream": sorted(task.upstream_task_ids),
            "trigger_rule": task.trigger_rule,
            "mapped": task.is_mapped,
        }
        for task in dag.topological_sort()
    ]
    columns = ["task_id", "operator", "group", "upstream", "trigger_rule", "mapped"]
    print_rows(rows, columns, output, empty=f"DAG '{dag_id}' has no tasks.")


@tasks_group.command("test")
@click.argument("dag_id")
@click.argument("task_id")
@logical_date_argument(required=False)
@conf_option
@dags_folder_option
@click.pass_context
def test_task(
    ctx: click.Context,
    dag_id: str,
    task_id: str,
    logical_date: datetime | None,
    conf: dict[str, Any] | None,
    dags_folder: Path | None,
) -> None:
    """Run one task, ignoring its dependencies.

    A mapped task runs every map index.

    LOGICAL_DATE is an ISO date or datetime (naive means [core] default_timezone, UTC unless
    set; default: now). Prints the task's log, its XCom values and its final state; exits 1
    if it failed.
    """
    settings = cli_settings(dags_folder)
    dag = load_dag(settings, dag_id)
    dag.get_task(task_id)
    progress = RunProgress(err=False)
    run = make_run(
        dag,
        settings=settings,
        logical_date=in_default_timezone(logical_date, settings),
        conf=conf,
        progress=progress,
    )
    with task_logs(settings, progress), use_store(store_opener(settings)):
        records = run.test_task(task_id)
    for (xcom_task, map_index, key), raw in sorted(run.xcom.values.items()):
        if xcom_task == task_id:
            where = f"[{map_index}]" if map_index >= 0 else ""
            value = redact(jsonable(decode_xcom(raw)), key)
            click.echo(f"XCom {key}{where}: {json.dumps(value)}")
    for record in records:
        click.echo(
            f"Task {instance_label(record)}: {state_text(record.state)}"
            f" (try {record.try_number}/{record.max_tries + 1})"
        )
    if any(record.state not in _OK_STATES for record in records):
        ctx.exit(1)


@tasks_group.command("render")
@click.argument("dag_id")
@click.argument("task_id")
@logical_date_argument(required=True)
@conf_option
@output_option("plain", "json", default="plain")
@dags_folder_option
def render_task(
    dag_id: str,
    task_id: str,
    logical_date: datetime,
    conf: dict[str, Any] | None,
    output: str,
    dags_folder: Path | None,
) -> None:
    """Print a task's template fields, rendered.

    Every template field of TASK_ID rendered for LOGICAL_DATE, per map index. A naive
    LOGICAL_DATE is read in [core] default_timezone (UTC unless set).
    """
    settings = cli_settings(dags_folder)
    dag = load_dag(settings, dag_id)
    dag.get_task(task_id)
    when = in_default_timezone(logical_date, settings)
    run = make_run(dag, settings=settings, logical_date=when, conf=conf)
    logs = task_logs(settings, RunProgress(err=True, current=task_id))
    with logs, use_store(store_opener(settings)):
        rendered = run.render_task(task_id)
    if output == "json":
        print_json([{"map_index": index, "fields": fields} for index, fields in rendered])
        return
    for index, fields in rendered:
        if index >= 0:
            click.echo(f"# map index {index}")
        if not fields:
            click.echo(f"# task '{task_id}' has no template fields")
        for name, value in fields.items():
            click.echo(f"# {'-' * 58}\n# {name}\n# {'-' * 58}")
            click.echo(value if isinstance(value, str) else pprint.pformat(value))
