"""sluice dag-processor and sluice dags report."""

from __future__ import annotations

import threading

import click

from sluice.cli.output import output_option, print_rows, warn
from sluice.cli.signals import stop_on_signals
from sluice.cli.stored_dags import opened_store
from sluice.processor.options import ProcessorOptions
from sluice.processor.processor import DagProcessor, ProcessorReport
from sluice.store.dags import file_reports


@click.command("dag-processor")
@click.option("--once", is_flag=True, help="Scan and parse once, then exit.")
def dag_processor(once: bool) -> None:
    """Parse the DAG files into the metadata database, again whenever they change.

    Scans [core] dags_folder (and the example DAGs when [core] load_examples is on) every
    [dag_processor] refresh_interval seconds; new and changed files are imported by
    [dag_processor] parsing_processes processes. Prints a line per scan that changed
    something. Runs until Ctrl-C or SIGTERM.
    """
    with opened_store() as (settings, store):
        options = ProcessorOptions.from_settings(settings)
        with DagProcessor(options, store) as processor:
            if once:
                _show(processor.run_once(), quiet=False)
                return
            folders = ", ".join(str(f) for f in options.folders) or "no folder"
            click.echo(
                f"DAG processor scanning {folders} every {options.refresh_interval:g} s with"
                f" {options.parsing_processes} parsing processes; Ctrl-C stops it."
            )
            stop = threading.Event()
            with stop_on_signals(stop):
                processor.run_forever(stop, on_report=lambda report: _show(report, quiet=True))
            click.echo("DAG processor stopped.")


def _show(report: ProcessorReport, *, quiet: bool) -> None:
    """The scan's summary line, then one warning per file that failed to import."""
    if quiet and not report.changed:
        return
    click.echo(report.summary())
    for message in report.errors.values():
        warn(f"Import error: {message}")


@click.command("report")
@click.option(
    "--refresh", is_flag=True, help="Parse the DAG files first (as dag-processor --once)."
)
@output_option()
def dags_report(refresh: bool, output: str) -> None:
    """List every DAG file with its parse time, DAG count and task count, slowest first.

    The figures are those the DAG processor stored at its last parse of each file; a file
    that failed to import shows its error.
    """
    with opened_store() as (settings, store):
        if refresh:
            with DagProcessor(ProcessorOptions.from_settings(settings), store) as processor:
                report = processor.run_once()
            if output == "table":
                click.echo(report.summary())
        with store.transaction() as session:
            files = file_reports(session)
    rows = [
        {
            "file": f.path,
            "duration": round(f.duration, 4),
            "dag_count": f.dag_count,
            "task_count": f.task_count,
            "dags": list(f.dag_ids),
            "error": f.error,
            "last_parsed_at": f.last_parsed_at,
        }
        for f in files
    ]
    columns = ["file", "duration", "dag_count", "task_count", "dags", "error"]
    print_rows(
        rows,
        columns,
        output,
        empty="No DAG files parsed yet; run `sluice dag-processor` (or add --refresh).",
    )
