"""The web benchmark's seed writes the history it promises, and its timing runs (no timings
are asserted: pages still being written may answer 404, which the table must show)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from benchmarks.harness import SQLITE
from benchmarks.web_pages import PAGES, PageTiming, SizeResult, format_table, main, measure
from benchmarks.web_seed import BIG, SMALL_DAGS, SMALL_RUNS, SMALL_TASKS, Seeded, seed
from sqlalchemy import func, select

from sluice.store.engine import Store
from sluice.store.tables import Dag, DagRun, ImportErrorRow, SerializedDagRow, TaskInstance, TaskTry


def test_seed_writes_dags_runs_and_tries(store: Store, tmp_path: Path) -> None:
    seeded = seed(store, tmp_path, 30)
    with store.transaction() as session:
        dags = session.scalar(select(func.count()).select_from(Dag))
        serialized = session.scalar(select(func.count()).select_from(SerializedDagRow))
        errors = session.scalar(select(func.count()).select_from(ImportErrorRow))
        big_states = Counter(
            session.scalars(select(TaskInstance.state).where(TaskInstance.dag_id == BIG))
        )
        run_states = Counter(session.scalars(select(DagRun.state).where(DagRun.dag_id == BIG)))
        tries = session.scalars(
            select(TaskTry.try_number).where(
                TaskTry.run_id == seeded.run_id, TaskTry.task_id == seeded.task_id
            )
        ).all()
    assert dags == serialized == SMALL_DAGS + 1
    assert errors == 5
    assert seeded.runs == 30 + SMALL_DAGS * SMALL_RUNS
    assert seeded.task_instances == 30 * 50 + SMALL_DAGS * SMALL_RUNS * SMALL_TASKS
    assert sum(big_states.values()) == 30 * 50
    assert {"success", "failed", "upstream_failed", "skipped", "running"} <= set(big_states)
    assert run_states == Counter({"success": 28, "failed": 1, "running": 1})
    assert sorted(tries) == [1, 2]
    assert (tmp_path / "dags" / "big.py").is_file()
    assert len(list((tmp_path / "logs").rglob("attempt=*.log"))) == 50 + 1


def test_timing_reports_every_page_with_its_status(tmp_path: Path) -> None:
    result = measure(SQLITE, None, 3, repeat=1, budget=1.0, explain=1, warmup=0, progress=False)
    assert [page.label for page in result.pages] == [label for label, _ in PAGES]
    assert all(page.status or page.error for page in result.pages)
    table = format_table([result, result])
    assert len(table.splitlines()) == 2 + len(PAGES)


def test_table_shows_a_status_instead_of_a_time() -> None:
    seeded = Seeded(1, 50, 50, 0.1, "run", "task", Path("dags"), Path("logs"))
    pages = [PageTiming(label, path, status=200, times=[0.004]) for label, path in PAGES]
    pages[0] = PageTiming(PAGES[0][0], PAGES[0][1], status=404, times=[0.001])
    table = format_table([SizeResult(SQLITE, seeded, pages, [])])
    rows = table.splitlines()
    assert rows[2].startswith("| DAG list | `/` | HTTP 404 |")
    assert rows[3].startswith("| grid | `/dags/big/grid` | 4.0 ms | 4.0 ms | - | - |")


def test_command_line_refuses_bad_sizes() -> None:
    with pytest.raises(SystemExit) as refused:
        main(["--sizes", "ten"])
    assert refused.value.code == 2
