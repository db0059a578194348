"""Time ``sluice dags test`` on generated DAGs, as a subprocess and in process.

Three figures per workload, each the best of ``repeat`` tries:

- ``cli``: wall time of ``sluice dags test DAG_ID --dags-folder TMP`` as a
  subprocess, from fork to exit: interpreter start, imports, parsing, the run,
  the report;
- ``parse``: importing the DAG file in this process;
- ``run``: ``LocalDagRun(...).execute()`` alone, in this process.

A ``startup`` row gives the cost of starting Python and importing the runner, to
read the CLI figures against.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.generate import chain_dag_id, parallel_dag_id, write_chain, write_parallel
from sluice.core.states import DagRunState
from sluice.runner.local_run import LocalDagRun
from sluice.sdk.dag import DAG

LOGICAL_DATE = datetime(2024, 1, 1, tzinfo=UTC)
_module_numbers = itertools.count()


@dataclass(frozen=True)
class Workload:
    """A generated DAG: its name in the table, its id, how many tasks, how to write it."""

    name: str
    dag_id: str
    tasks: int
    write: Callable[[Path], Path]


@dataclass(frozen=True)
class Timing:
    """The figures of one workload; None where a figure could not be taken."""

    workload: Workload
    cli: float | None
    parse: float
    run: float
    note: str = ""


def workloads(chain: int = 100, parallel: int = 500) -> list[Workload]:
    """The chain and the fan-out, at the given sizes."""
    return [
        Workload(
            f"chain-{chain}", chain_dag_id(chain), chain, lambda folder: write_chain(folder, chain)
        ),
        Workload(
            f"parallel-{parallel}",
            parallel_dag_id(parallel),
            parallel + 2,
            lambda folder: write_parallel(folder, parallel),
        ),
    ]


def load_dag(path: Path, dag_id: str) -> DAG:
    """Import a DAG file under a fresh module name and return the DAG called ``dag_id``."""
    spec = importlib.util.spec_from_file_location(f"sluice_bench_{next(_module_numbers)}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for value in vars(module).values():
        if isinstance(value, DAG) and value.dag_id == dag_id:
            return value
    raise RuntimeError(f"{path} defines no DAG '{dag_id}'")


def time_in_process(path: Path, workload: Workload, repeat: int) -> tuple[float, float]:
    """Best parse time and best run time over ``repeat`` tries."""
    parses, runs = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        dag = load_dag(path, workload.dag_id)
        parses.append(time.perf_counter() - started)
        run = LocalDagRun(dag, logical_date=LOGICAL_DATE, wait_for_retries=False)
        started = time.perf_counter()
        result = run.execute()
        runs.append(time.perf_counter() - started)
        if result.state is not DagRunState.SUCCESS:
            raise RuntimeError(f"{workload.dag_id} ended {result.state}, not success")
        if len(result.instances) != workload.tasks:
            raise RuntimeError(f"{workload.dag_id} ran {len(result.instances)} task instances")
    return min(parses), min(runs)


def cli_command() -> list[str]:
    """How to start the ``sluice`` command of this interpreter's environment."""
    script = Path(sys.executable).parent / "sluice"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "sluice.cli.main"]


def time_subprocess(command: Sequence[str], repeat: int) -> tuple[float | None, str]:
    """Best wall time of the command, or None and why it failed."""
    env = {**os.environ, "SLUICE__CORE__LOAD_EXAMPLES": "false"}
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return None, f"exit {done.returncode}: {last[0][:120]}"
        times.append(elapsed)
    return min(times), ""


def measure(
    chain: int = 100, parallel: int = 500, repeat: int = 3
) -> tuple[float | None, list[Timing]]:
    """The startup baseline and one Timing per workload."""
    startup, _ = time_subprocess([sys.executable, "-c", "import sluice.runner.local_run"], repeat)
    timings = []
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp:
        folder = Path(tmp)
        for workload in workloads(chain, parallel):
            path = workload.write(folder)
            parse, run = time_in_process(path, workload, repeat)
            command = [*cli_command(), "dags", "test", workload.dag_id, "--dags-folder", tmp]
            cli, note = time_subprocess(command, repeat)
            timings.append(Timing(workload, cli, parse, run, note))
    return startup, timings


def format_table(startup: float | None, timings: Sequence[Timing]) -> str:
    """A Markdown table of the figures."""

    def seconds(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    lines = [
        "| workload | tasks | `sluice dags test` (s) | parse (s) | run (s) | tasks/s (run) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| startup: python + import | - | {seconds(startup)} | - | - | - |",
    ]
    for t in timings:
        rate = t.workload.tasks / t.run if t.run > 0 else float("inf")
        lines.append(
            f"| {t.workload.name} | {t.workload.tasks} | {seconds(t.cli)} | "
            f"{seconds(t.parse)} | {seconds(t.run)} | {rate:,.0f} |"
        )
    notes = [f"{t.workload.name}: `sluice dags test` failed ({t.note})" for t in timings if t.note]
    return "\n".join(lines + (["", *notes] if notes else []))


def summary(timings: Sequence[Timing]) -> str:
    """One line per workload: the mean in-process cost of a task."""
    return "\n".join(
        f"{t.workload.name}: {1000 * t.run / t.workload.tasks:.2f} ms per task in process"
        for t in timings
    )
