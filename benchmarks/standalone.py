"""S: ``sluice standalone`` from start to ready, its processes, their idle memory, its stop.

Ready means, read from the store: the DAG processor has recorded every example DAG
file (``dag_file`` rows; the first scan is written in one transaction), and the
scheduler's job row is there with its first heartbeat (state ``running``); and the web
UI answers its login page. The clock runs from just before the process is started to
the first poll that sees all three (polls every 50 ms).

After ``idle`` more seconds with nothing to run, the process tree is counted and its
memory summed as PSS (``/proc/<pid>/smaps_rollup``: shared pages divided among the
processes that share them, so that the sum is what the tree really costs). Then the
top process gets SIGINT, as from Ctrl-C, and must be gone, with all its children,
within ``STOP_GRACE`` seconds.
"""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError

from benchmarks import processes
from benchmarks.harness import (
    SQLITE,
    Database,
    Figure,
    WorkloadError,
    exited,
    poll,
    seconds,
    sluice_env,
    start_sluice,
    workspace,
)
from sluice.parsing.importer import example_dags_folder
from sluice.processor.scan import FileScanner
from sluice.store.tables import DagFile, Job

STOP_GRACE = 10.0
"""Seconds ``sluice standalone`` may take to stop after SIGINT before it counts as hung."""


def example_files() -> int:
    """How many example DAG files the DAG processor finds."""
    return len(FileScanner([example_dags_folder()], safe_mode=True, salt=b"").scan())


def s(backend: str, postgres_url: str | None, idle: float, timeout: float) -> list[Figure]:
    """Start ``sluice standalone`` in a fresh home and database, measure it, stop it."""
    label = "S `sluice standalone`"
    expected = example_files()
    with workspace(backend, postgres_url) as (home, database):
        env = sluice_env(home, database, load_examples=True)
        port = free_port()
        env["SLUICE__WEBSERVER__PORT"] = str(port)
        log_path = home / "standalone.log"
        reader = database.reader()
        started = time.monotonic()
        process = start_sluice(["standalone"], env, log_path)
        stopped_cleanly = False
        try:

            def died() -> str | None:
                return exited(process, "sluice standalone", log_path)

            poll(
                lambda: _ready(reader, database, home, expected) and _ui_answers(port),
                deadline=started + timeout,
                what="sluice standalone to be ready",
                alive=died,
            )
            ready = time.monotonic() - started
            time.sleep(idle)
            if died() is not None:
                raise WorkloadError(died() or "")
            tree = processes.tree(process.pid)
            pss = processes.pss_bytes(tree)
            signalled = time.monotonic()
            stopped_cleanly = processes.stop(process, grace=STOP_GRACE)
            stop_seconds = time.monotonic() - signalled
        finally:
            if not stopped_cleanly:
                processes.stop(process, grace=0.0)
            reader.dispose()
    stop = seconds(stop_seconds) if stopped_cleanly else f"not within {STOP_GRACE:g} s (killed)"
    return [
        Figure(label, "start to ready", seconds(ready), "8.2 s"),
        Figure(label, "processes", str(len(tree)), "40"),
        Figure(label, f"idle memory after {idle:g} s, PSS summed", _megabytes(pss), "1.1 GB"),
        Figure(label, "SIGINT to all processes gone", stop),
    ]


def _ready(reader: Engine, database: Database, home: Path, expected: int) -> bool | None:
    if database.backend == SQLITE and not (home / "sluice.db").exists():
        return None  # connecting first would create the file under standalone's feet
    try:
        with reader.connect() as connection:
            parsed = connection.execute(
                select(func.count()).select_from(DagFile).where(DagFile.is_present)
            ).scalar_one()
            scheduler = connection.execute(
                select(Job.id).where(Job.job_type == "scheduler", Job.state == "running")
            ).first()
    except DBAPIError:
        return None  # not migrated yet
    return True if parsed >= expected and scheduler is not None else None


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ui_answers(port: int) -> bool | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=1) as response:
            return True if response.status == 200 else None
    except OSError:
        return None


def _megabytes(count: int) -> str:
    return f"{count / 1e6:,.0f} MB"
