"""The benchmark generators write DAGs of the right shape, and the runner runs (no timings)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.dags_test import Timing, format_table, load_dag, workloads
from benchmarks.generate import (
    many_dag_id,
    write_bash_chain,
    write_chain,
    write_many,
    write_parallel,
)
from benchmarks.harness import Figure, percentile
from benchmarks.report import table

from sluice.core.states import DagRunState
from sluice.operators import BashOperator
from sluice.runner.local_run import LocalDagRun


def test_chain_is_a_chain(tmp_path: Path) -> None:
    dag = load_dag(write_chain(tmp_path, 5), "bench_chain_5")
    assert dag.task_ids == [f"task_{i:04d}" for i in range(5)]
    assert [t.task_id for t in dag.roots] == ["task_0000"]
    assert [t.task_id for t in dag.leaves] == ["task_0004"]
    assert all(len(t.upstream_task_ids) == 1 for t in dag.tasks[1:])


def test_parallel_is_a_fan_out_and_join(tmp_path: Path) -> None:
    dag = load_dag(write_parallel(tmp_path, 7), "bench_parallel_7")
    assert len(dag.tasks) == 9
    middle = {f"task_{i:04d}" for i in range(7)}
    assert dag.get_task("start").downstream_task_ids == middle
    assert dag.get_task("end").upstream_task_ids == middle
    assert dag.max_active_tasks >= 7


def test_workloads_run_to_success(tmp_path: Path) -> None:
    for workload in workloads(chain=3, parallel=4):
        dag = load_dag(workload.write(tmp_path), workload.dag_id)
        assert len(dag.tasks) == workload.tasks
        run = LocalDagRun(
            dag, logical_date=datetime(2024, 1, 1, tzinfo=UTC), wait_for_retries=False
        )
        result = run.execute()
        assert result.state is DagRunState.SUCCESS
        assert len(result.instances) == workload.tasks


def test_table_shows_a_failed_cli_run() -> None:
    chain = workloads(chain=3, parallel=4)[0]
    table = format_table(0.1, [Timing(chain, None, 0.01, 0.02, "exit 1: boom")])
    assert "| chain-3 | 3 | n/a | 0.010 | 0.020 | 150 |" in table
    assert "chain-3: `sluice dags test` failed (exit 1: boom)" in table


def test_bash_chain_is_a_chain_of_echo(tmp_path: Path) -> None:
    dag = load_dag(write_bash_chain(tmp_path, 4), "bench_bash_chain_4")
    assert dag.task_ids == [f"echo_{i:04d}" for i in range(4)]
    assert all(isinstance(t, BashOperator) and t.bash_command == "echo hi" for t in dag.tasks)
    assert all(len(t.upstream_task_ids) == 1 for t in dag.tasks[1:])


def test_many_writes_one_dag_per_file(tmp_path: Path) -> None:
    paths = write_many(tmp_path, files=3, tasks=10)
    assert [p.name for p in paths] == [f"{many_dag_id(i)}.py" for i in range(3)]
    for index, path in enumerate(paths):
        dag = load_dag(path, many_dag_id(index))
        assert len(dag.tasks) == 10


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 0.5) == 10.0
    assert percentile(values, 0.95) == 19.0
    assert percentile([3.0], 0.95) == 3.0


def test_table_has_a_column_per_backend_and_airflow() -> None:
    results = {
        "SQLite": [Figure("W1", "per hop", "5 ms", "~1.0 s"), Figure("S", "failed", "a|b")],
        "PostgreSQL": [Figure("W1", "per hop", "6 ms", "~1.0 s")],
    }
    assert table(results).splitlines()[2:] == [
        "| W1 | per hop | 5 ms | 6 ms | ~1.0 s |",
        "| S | failed | a\\|b | - |  |",
    ]


def test_quick_w1_runs_through_the_scheduler() -> None:
    """`python -m benchmarks --quick --only W1`: a 5-task chain through the real scheduler."""
    env = {k: v for k, v in os.environ.items() if k != "SLUICE_BENCH_POSTGRES_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "W1", "--timeout", "120"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| W1 chain of 5 ")]
    assert [row.split(" | ")[1] for row in rows] == [
        "per hop, median",
        "per hop, p95",
        "total, trigger to run end",
    ]
