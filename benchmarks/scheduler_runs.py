"""W1-W3: one DAG run through the real ``sluice scheduler`` and its LocalExecutor.

For each workload, in a fresh SLUICE_HOME and database: ``sluice db migrate``,
``sluice dag-processor --once``, ``sluice dags unpause``; then ``sluice scheduler`` starts
as a subprocess (LocalExecutor, default parallelism), and once its job row is in the
store, ``sluice dags trigger`` creates the run. The figures come from the store's
timestamps: the task instances' start_date and end_date, the run's queued_at (set by
the trigger) and end_date. Finally the scheduler gets SIGINT, and anything left of its
process tree is killed.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select

from benchmarks import processes
from benchmarks.generate import (
    bash_chain_dag_id,
    chain_dag_id,
    parallel_dag_id,
    write_bash_chain,
    write_chain,
    write_parallel,
)
from benchmarks.harness import (
    Database,
    Figure,
    WorkloadError,
    exited,
    last_line,
    percentile,
    poll,
    run_sluice,
    seconds,
    sluice_env,
    start_sluice,
    workspace,
)
from sluice.store.tables import DagRun, Job, TaskInstance, TaskTry

RUN_ID = "bench_run"
COMMAND_TIMEOUT = 120.0
"""Seconds any one short command (migrate, parse, unpause, trigger) may take."""


@dataclass(frozen=True)
class TaskTimes:
    task_id: str
    state: str | None
    start: datetime
    end: datetime


@dataclass(frozen=True)
class RunTimes:
    """What the store says about the benchmark's run once it finished."""

    state: str
    queued_at: datetime
    end: datetime
    tasks: list[TaskTimes]
    """The task instances that started and ended."""
    states: Counter[str]
    """Task instances by state, all of them."""
    error: str = ""
    """The first error a task try recorded."""

    def state_counts(self) -> str:
        return ", ".join(f"{n} {state}" for state, n in self.states.most_common())

    @property
    def total(self) -> float:
        """Seconds from the trigger to the run's end."""
        return (self.end - self.queued_at).total_seconds()

    def hops(self) -> list[float]:
        """For a chain whose task ids sort in chain order: each task's end to the next's start."""
        ordered = sorted(self.tasks, key=lambda t: t.task_id)
        return [(b.start - a.end).total_seconds() for a, b in itertools.pairwise(ordered)]

    def span(self) -> float:
        """Seconds from the first task's start to the last task's end."""
        return (max(t.end for t in self.tasks) - min(t.start for t in self.tasks)).total_seconds()


def run_once(
    database: Database,
    home: Path,
    dag_id: str,
    write: Callable[[Path], object],
    tasks: int,
    timeout: float,
) -> RunTimes:
    """Run ``dag_id`` once with the real scheduler; raise WorkloadError on failure or timeout."""
    deadline = time.monotonic() + timeout
    write(home / "dags")
    env = sluice_env(home, database)
    run_sluice(["db", "migrate"], env, COMMAND_TIMEOUT)
    run_sluice(["dag-processor", "--once"], env, COMMAND_TIMEOUT)
    run_sluice(["dags", "unpause", dag_id], env, COMMAND_TIMEOUT)
    reader = database.reader()
    log_path = home / "scheduler.log"
    scheduler = start_sluice(["scheduler"], env, log_path)
    try:

        def died() -> str | None:
            return exited(scheduler, "the scheduler", log_path)

        poll(
            lambda: _scheduler_job(reader, scheduler.pid),
            deadline=deadline,
            what="the scheduler's job row",
            alive=died,
        )
        run_sluice(["dags", "trigger", dag_id, "--run-id", RUN_ID], env, COMMAND_TIMEOUT)
        state = poll(
            lambda: _finished_state(reader, dag_id),
            deadline=deadline,
            what=f"the run of {dag_id} to finish (timeout {timeout:g} s)",
            interval=0.1,
            alive=died,
        )
        times = _run_times(reader, dag_id, state)
    finally:
        stopped = processes.stop(scheduler, grace=30.0)
        reader.dispose()
    if state != "success":
        raise WorkloadError(
            f"the run ended {state}; task states {times.state_counts()}"
            f"{_first_error(times, log_path)}"
        )
    if len(times.tasks) != tasks:
        raise WorkloadError(f"{len(times.tasks)} task instances ran, expected {tasks}")
    if not stopped:
        raise WorkloadError("the scheduler did not stop within 30 s of SIGINT")
    return times


def _scheduler_job(reader: Engine, pid: int) -> int | None:
    with reader.connect() as connection:
        return connection.execute(
            select(Job.id).where(
                Job.job_type == "scheduler", Job.state == "running", Job.pid == pid
            )
        ).scalar()


def _finished_state(reader: Engine, dag_id: str) -> str | None:
    with reader.connect() as connection:
        state = connection.execute(
            select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == RUN_ID)
        ).scalar()
    return state if state in ("success", "failed") else None


def _run_times(reader: Engine, dag_id: str, state: str) -> RunTimes:
    with reader.connect() as connection:
        run = connection.execute(
            select(DagRun.queued_at, DagRun.start_date, DagRun.end_date).where(
                DagRun.dag_id == dag_id, DagRun.run_id == RUN_ID
            )
        ).one()
        rows = connection.execute(
            select(
                TaskInstance.task_id,
                TaskInstance.state,
                TaskInstance.start_date,
                TaskInstance.end_date,
            ).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == RUN_ID)
        ).all()
    tasks = [
        TaskTimes(r.task_id, r.state, r.start_date, r.end_date)
        for r in rows
        if r.start_date and r.end_date
    ]
    states = Counter(str(r.state) for r in rows)
    with reader.connect() as connection:
        errors = connection.execute(
            select(TaskTry.task_id, TaskTry.error)
            .where(TaskTry.dag_id == dag_id, TaskTry.run_id == RUN_ID, TaskTry.error.is_not(None))
            .limit(1)
        ).all()
    error = f"{errors[0].task_id}: {last_line(errors[0].error)}" if errors else ""
    return RunTimes(state, run.queued_at or run.start_date, run.end_date, tasks, states, error)


def _first_error(times: RunTimes, log_path: Path) -> str:
    """The first task error, else the scheduler's first ERROR line, for the table."""
    if times.error:
        return f"; {times.error}"
    for line in log_path.read_text(errors="replace").splitlines():
        if " ERROR " in line or "Traceback" in line:
            return f"; scheduler log: {line.strip()[:200]}"
    return ""


def chain_figures(
    label: str,
    times: RunTimes,
    *,
    airflow_hop: str = "",
    airflow_total: str = "",
) -> list[Figure]:
    """Seconds per hop (median, p95) and the total of a chain run."""
    hops = times.hops()
    figures = []
    if hops:
        figures += [
            Figure(label, "per hop, median", seconds(percentile(hops, 0.5)), airflow_hop),
            Figure(label, "per hop, p95", seconds(percentile(hops, 0.95))),
        ]
    figures.append(Figure(label, "total, trigger to run end", seconds(times.total), airflow_total))
    return figures


def w1(backend: str, postgres_url: str | None, n: int, timeout: float) -> list[Figure]:
    """W1: a chain of ``n`` no-op Python tasks."""
    with workspace(backend, postgres_url) as (home, database):
        times = run_once(database, home, chain_dag_id(n), lambda f: write_chain(f, n), n, timeout)
    default = n == 100
    return chain_figures(
        f"W1 chain of {n} Python tasks",
        times,
        airflow_hop="~1.0 s" if default else "",
        airflow_total="102 s" if default else "",
    )


def w2(backend: str, postgres_url: str | None, n: int, timeout: float) -> list[Figure]:
    """W2: start, ``n`` parallel no-op Python tasks, join."""
    with workspace(backend, postgres_url) as (home, database):
        times = run_once(
            database, home, parallel_dag_id(n), lambda f: write_parallel(f, n), n + 2, timeout
        )
    span = times.span()
    rate = len(times.tasks) / span if span > 0 else float("inf")
    default = n == 500
    label = f"W2 1 + {n} parallel + 1 Python tasks"
    return [
        Figure(label, "tasks/s, first start to last end", f"{rate:,.1f}", "~8" if default else ""),
        Figure(label, "total, trigger to run end", seconds(times.total), "60 s" if default else ""),
    ]


def w3(backend: str, postgres_url: str | None, n: int, timeout: float) -> list[Figure]:
    """W3: a chain of ``n`` Bash tasks running ``echo hi``."""
    with workspace(backend, postgres_url) as (home, database):
        times = run_once(
            database, home, bash_chain_dag_id(n), lambda f: write_bash_chain(f, n), n, timeout
        )
    return chain_figures(f"W3 chain of {n} `echo hi` Bash tasks", times)
