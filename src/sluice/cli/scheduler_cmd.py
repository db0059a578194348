"""sluice scheduler and sluice standalone."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from types import FrameType

import click

from sluice.cli.example_connections import ensure_example_connections
from sluice.cli.loading import cli_settings
from sluice.cli.signals import stop_on_signals
from sluice.cli.store_access import open_store
from sluice.cli.web_cmd import (
    ADMIN_PASSWORD_FILE,
    check_port_free,
    ensure_admin,
    start_webserver,
    stop_webserver,
    url,
)
from sluice.config import Settings
from sluice.core.messages import CallbackWorkload, TaskWorkload
from sluice.executors.base import Executor
from sluice.executors.local import LocalExecutor
from sluice.executors.sequential import SequentialExecutor
from sluice.processor.options import ProcessorOptions
from sluice.processor.processor import DagProcessor, ProcessorReport
from sluice.runner.dag_cache import DagCache
from sluice.runner.dag_callbacks import run_callback_workload
from sluice.runner.task_runner import prepare_child, run_task_workload, warm_up
from sluice.scheduler.loop import SchedulerJob
from sluice.store import schema
from sluice.store.engine import Store

EXECUTORS = ("local", "sequential")
PROCESSOR_STOP_GRACE = 10.0
"""Seconds the DAG processor gets to finish its scan when standalone stops."""


def build_executor(kind: str, settings: Settings, store: Store) -> Executor:
    """An executor whose workers run tasks with the task runner, and callbacks, over ``store``."""
    dags = DagCache.from_settings(settings)

    def run_task(workload: TaskWorkload) -> int:
        return run_task_workload(workload, settings=settings, store=store, dags=dags)

    def run_callback(workload: CallbackWorkload) -> int:
        return run_callback_workload(workload, settings=settings, store=store, dags=dags)

    def prepare(workload: TaskWorkload) -> bool:
        # Imported once in the warm worker, so that each task's child starts with it; False
        # (nothing imported) lets the worker hand the try to the child it forked ahead.
        imports = dags.imports
        dags.get_dag(workload.dag_file, workload.key.dag_id)
        return dags.imports != imports

    def worker_init() -> None:
        # Compile the runner's statements once per worker, for every child it forks.
        store.after_fork()
        warm_up(store)
        store.dispose()

    def child_init() -> None:
        # Not the parent's database connections, but its own, opened ahead of the try.
        prepare_child(store)

    if kind == "sequential":
        # Each child is forked for its workload: nothing to open ahead, only the parent's
        # connections to drop.
        return SequentialExecutor(
            run_task, run_callback=run_callback, prepare=prepare, child_init=store.after_fork
        )
    parallelism = settings.get_int("core", "parallelism")
    return LocalExecutor(
        parallelism,
        run_task,
        run_callback=run_callback,
        prepare=prepare,
        worker_init=worker_init,
        child_init=child_init,
    )


STOPPING = "Stopping: waiting for running tasks to finish (Ctrl-C again kills them)."


def configure_logging(settings: Settings) -> None:
    """Sluice's own log lines on stderr, at [logging] level."""
    logging.basicConfig(
        level=settings.get_str("logging", "level"),
        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s",
    )


@click.command("scheduler")
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default="local",
    show_default=True,
    help="local: [core] parallelism warm worker processes; sequential: one task at a time.",
)
def scheduler(executor: str) -> None:
    """Create runs on schedule, run their tasks, and recover from crashes.

    Runs until Ctrl-C or SIGTERM, then lets running tasks finish (a second Ctrl-C kills
    them). Another scheduler may run at the same time on PostgreSQL or MySQL.
    """
    settings = cli_settings()
    store = open_store(settings)
    try:
        configure_logging(settings)
        stop = threading.Event()
        job = SchedulerJob(settings, store, build_executor(executor, settings, store))
        click.echo(
            f"Scheduler (pid {os.getpid()}) on {_url(store)} with the {executor} executor"
            f"{_slots(executor, settings)}; Ctrl-C stops it."
        )
        with stop_on_signals(stop, message=STOPPING):
            job.run(stop)
        click.echo("Scheduler stopped.")
    finally:
        store.dispose()


@click.command("standalone")
@click.option(
    "--port",
    "-p",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port of the web server ([webserver] port, default 8080).",
)
def standalone(port: int | None) -> None:
    """Migrate the database, then run the DAG processor, the scheduler and the web server.

    The DAG processor and the web server run in child processes; the scheduler and its
    LocalExecutor run in this one, with [core] parallelism worker processes. The first
    start creates the web user `admin` with a random password, printed here and kept in
    SLUICE_HOME/standalone_admin_password.txt. Ctrl-C stops everything.
    """
    settings = cli_settings(overrides={("webserver", "port"): port})
    check_port_free(settings.get_str("webserver", "host"), settings.get_int("webserver", "port"))
    store = open_store(settings, check=False)
    # Forked first, so that its imports (FastAPI and the pages: most of a second) overlap
    # with migrating and parsing; it serves no request before the admin user exists.
    web = start_webserver(settings, store)
    processor = None
    try:
        result = schema.migrate(
            store, default_pool_slots=settings.get_int("scheduler", "default_pool_slots")
        )
        configure_logging(settings)
        stop = threading.Event()
        password = ensure_admin(settings, store)
        ensure_example_connections(settings, store)
        # Forked before the executor starts: no thread of ours exists yet.
        processor = _start_processor(settings, store)
        options = ProcessorOptions.from_settings(settings)
        folders = ", ".join(str(f) for f in options.folders) or "no folder"
        migrated = "migrated" if result.changed else "up to date"
        click.echo(
            f"Sluice standalone (pid {os.getpid()}), home {settings.home}\n"
            f"  database:      {_url(store)} ({migrated})\n"
            f"  DAG processor: pid {processor.pid}, scanning {folders}"
            f" every {options.refresh_interval:g} s\n"
            f"  scheduler:     pid {os.getpid()}, local executor{_slots('local', settings)}\n"
            f"  task logs:     {settings.base_log_folder}\n"
            f"  web UI:        {url(settings)} (pid {web.pid}), user admin, password"
            f" {password or '(as set; not in ' + ADMIN_PASSWORD_FILE + ')'}\n"
            "Ctrl-C stops everything."
        )
        job = SchedulerJob(settings, store, build_executor("local", settings, store))
        with stop_on_signals(stop, message=STOPPING):
            job.run(stop)
        click.echo("Sluice standalone stopped.")
    finally:
        stop_webserver(web)
        if processor is not None:
            _stop_processor(processor)
        store.dispose()


def _start_processor(settings: Settings, store: Store) -> multiprocessing.process.BaseProcess:
    context = multiprocessing.get_context("fork")
    process = context.Process(
        target=_processor_main, args=(settings, store), name="sluice-dag-processor"
    )
    process.start()
    return process


def _processor_main(settings: Settings, store: Store) -> None:
    """The DAG processor's child process: its own database connections, stopped by signal."""
    # The parent's pooled connections are the parent's: drop them without closing them.
    store.engine.dispose(close=False)
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    with DagProcessor(ProcessorOptions.from_settings(settings), store) as processor:
        processor.run_forever(stop, on_report=_log_report)


def _log_report(report: ProcessorReport) -> None:
    log = logging.getLogger("sluice.processor")
    if report.changed:
        log.info("%s", report.summary())
        for message in report.errors.values():
            log.warning("Import error: %s", message)


def _stop_processor(process: multiprocessing.process.BaseProcess) -> None:
    if process.is_alive() and process.pid is not None:
        os.kill(process.pid, signal.SIGTERM)
    process.join(PROCESSOR_STOP_GRACE)
    if process.is_alive():
        process.kill()
        process.join()


def _url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=True)


def _slots(executor: str, settings: Settings) -> str:
    if executor == "sequential":
        return ""
    return f" ({settings.get_int('core', 'parallelism')} worker processes)"
