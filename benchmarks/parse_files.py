"""W4: parsing a folder of many DAG files, from cold and again unchanged.

Two ways, each against a fresh home and database:

- in process: ``sluice.processor.DagProcessor.run_once`` on a migrated database, timed
  around the call alone (its parsing processes started beforehand), then a second
  ``run_once`` on the unchanged folder in the same process (it stats the files and
  imports none). This runs in a child interpreter (``python -m benchmarks.parse_files``)
  so that it starts cold and can be given a time limit.
- as a command: the wall time of ``sluice dag-processor --once`` on the fresh database,
  then again on the unchanged folder (a new process: it must hash every file to know
  that nothing changed). Interpreter start and imports included.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.generate import write_many
from benchmarks.harness import (
    Figure,
    WorkloadError,
    last_line,
    run_sluice,
    seconds,
    sluice_env,
    workspace,
)


def w4(
    backend: str, postgres_url: str | None, files: int, tasks: int, timeout: float
) -> list[Figure]:
    """Seconds to parse ``files`` DAG files of ``tasks`` tasks each, cold and unchanged."""
    label = f"W4 {files} DAG files of {tasks} tasks"
    default = (files, tasks) == (200, 10)
    deadline = time.monotonic() + timeout

    with workspace(backend, postgres_url) as (home, database):
        folder = home / "dags"
        write_many(folder, files, tasks)
        run_sluice(["db", "migrate"], sluice_env(home, database), timeout)
        command = [sys.executable, "-m", "benchmarks.parse_files", database.url, str(folder)]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=max(1.0, deadline - time.monotonic()),
                check=False,
                cwd=Path(__file__).resolve().parent.parent,
            )
        except subprocess.TimeoutExpired:
            raise WorkloadError(f"parsing in process took more than {timeout:g} s") from None
        if done.returncode != 0:
            raise WorkloadError(f"parsing in process failed: {last_line(done.stderr)}")
        in_process = json.loads(done.stdout)
        if in_process["parsed"] != files:
            raise WorkloadError(f"parsed {in_process['parsed']} files of {files}")

    with workspace(backend, postgres_url) as (home, database):
        write_many(home / "dags", files, tasks)
        env = sluice_env(home, database)
        run_sluice(["db", "migrate"], env, timeout)
        cold = run_sluice(["dag-processor", "--once"], env, max(1.0, deadline - time.monotonic()))
        warm = run_sluice(["dag-processor", "--once"], env, max(1.0, deadline - time.monotonic()))

    return [
        Figure(label, "cold parse, in process", seconds(in_process["cold"])),
        Figure(label, "unchanged re-parse, same process", seconds(in_process["warm"])),
        Figure(label, "`dag-processor --once`, cold", seconds(cold), "11 s" if default else ""),
        Figure(label, "`dag-processor --once`, unchanged", seconds(warm)),
    ]


def measure_in_process(url: str, folder: Path) -> dict[str, float | int]:
    """Time two scans of ``folder`` into the migrated database at ``url``."""
    from sluice.processor.options import ProcessorOptions
    from sluice.processor.processor import DagProcessor
    from sluice.store.engine import Store

    store = Store(url)
    try:
        options = ProcessorOptions(folders=(folder,))
        started = time.perf_counter()
        with DagProcessor(options, store) as processor:
            pool_start = time.perf_counter() - started
            cold = processor.run_once()
            warm = processor.run_once()
        if cold.errors:
            raise RuntimeError(f"import errors: {next(iter(cold.errors.values()))}")
        if warm.parsed:
            raise RuntimeError(f"the unchanged scan re-imported {len(warm.parsed)} files")
        return {
            "pool_start": pool_start,
            "cold": cold.seconds,
            "warm": warm.seconds,
            "files": cold.files,
            "parsed": len(cold.parsed),
        }
    finally:
        store.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Child mode: print the in-process figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.parse_files")
    parser.add_argument("url")
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    print(json.dumps(measure_in_process(args.url, args.folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
