"""``sluice dags test``: one whole DAG run in this process, without a database."""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from sluice.cli.arguments import conf_option, dags_folder_option, logical_date_argument
from sluice.cli.loading import cli_settings, in_default_timezone, load_dag
from sluice.cli.output import output_option, print_json
from sluice.cli.progress import (
    RunProgress,
    make_run,
    print_summary,
    run_document,
    stdout_to_stderr,
    store_opener,
    task_logs,
)
from sluice.core.states import DagRunState
from sluice.integrations.runtime import use_store


@click.command("test")
@click.argument("dag_id")
@logical_date_argument(required=False)
@conf_option
@click.option(
    "--no-retry-delay",
    is_flag=True,
    help="Retry failed tasks at once instead of waiting for their retry_delay.",
)
@output_option("table", "json")
@dags_folder_option
@click.pass_context
def test_dag(
    ctx: click.Context,
    dag_id: str,
    logical_date: datetime | None,
    conf: dict[str, Any] | None,
    no_retry_delay: bool,
    output: str,
    dags_folder: Path | None,
) -> None:
    """Run a whole DAG once, in this process.

    Every task runs in dependency order, with retries.

    LOGICAL_DATE is an ISO date or datetime (naive means [core] default_timezone, UTC unless
    set; default: now). Nothing is written to the database. Exits 0 if the run succeeded,
    1 otherwise.
    """
    settings = cli_settings(dags_folder)
    dag = load_dag(settings, dag_id)
    as_json = output == "json"
    progress = RunProgress(err=as_json)
    run = make_run(
        dag,
        settings=settings,
        logical_date=in_default_timezone(logical_date, settings),
        conf=conf,
        progress=progress,
        wait_for_retries=not no_retry_delay,
    )
    # With --output json, stdout carries the JSON document and nothing else.
    quiet_stdout = stdout_to_stderr() if as_json else contextlib.nullcontext()
    with task_logs(settings, progress), use_store(store_opener(settings)), quiet_stdout:
        result = run.execute()
    if as_json:
        print_json(run_document(result))
    else:
        print_summary(result)
    if result.state is not DagRunState.SUCCESS:
        ctx.exit(1)
