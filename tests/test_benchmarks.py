"""The benchmark generator writes DAGs that load, with the right shape (no timings here)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from benchmarks.dags_test import Timing, format_table, load_dag, workloads
from benchmarks.generate import write_chain, write_parallel

from sluice.core.states import DagRunState
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
