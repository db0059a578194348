"""db clean: old finished runs go with everything of theirs; nothing else is touched."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sluice.core.errors import StoreError
from sluice.store.cleanup import CleanResult, clean, run_log_folder
from sluice.store.engine import Store
from sluice.store.tables import DagRun, TaskInstance, TaskTry, XCom

OLD = datetime(2024, 1, 1, tzinfo=UTC)
CUTOFF = datetime(2024, 6, 1, tzinfo=UTC)
RECENT = datetime(2024, 9, 1, tzinfo=UTC)
_DATES = itertools.count(1)


def _run(
    store: Store,
    run_id: str,
    *,
    state: str = "success",
    end: datetime | None = OLD,
    task_states: tuple[str | None, ...] = ("success", "success"),
    logs: Path | None = None,
) -> None:
    """A run with one task instance, one try and one XCom per entry of ``task_states``."""
    with store.transaction() as session:
        run = DagRun(
            dag_id="etl", run_id=run_id, logical_date=OLD - timedelta(hours=next(_DATES)),
            run_type="scheduled", state=state, end_date=end,
        )  # fmt: skip
        session.add(run)
        session.flush()
        for n, task_state in enumerate(task_states):
            task_id = f"t{n}"
            session.add(
                TaskInstance(dag_id="etl", run_id=run_id, task_id=task_id, state=task_state)
            )
            session.add(TaskTry(dag_id="etl", run_id=run_id, task_id=task_id, try_number=1))
            session.add(
                XCom(
                    dag_run_id=run.id, task_id=task_id, key="return_value", dag_id="etl",
                    run_id=run_id, value="1", timestamp=OLD,
                )
            )  # fmt: skip
    if logs is not None:
        attempt = run_log_folder(logs, "etl", run_id) / "task_id=t0" / "attempt=1.log"
        attempt.parent.mkdir(parents=True)
        attempt.write_text("log\n")


def _left(store: Store) -> dict[str, int]:
    with store.transaction() as session:
        return {
            table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0
            for table in (DagRun, TaskInstance, TaskTry, XCom)
        }


def _run_ids(store: Store) -> set[str]:
    with store.transaction() as session:
        return set(session.scalars(select(DagRun.run_id)))


def test_deletes_old_finished_runs_only(store: Store, tmp_path: Path) -> None:
    _run(store, "old_success", logs=tmp_path)
    _run(store, "old_failed", state="failed", logs=tmp_path)
    _run(store, "recent", end=RECENT, logs=tmp_path)
    _run(store, "running", state="running", end=None, task_states=("running", None))
    _run(store, "queued", state="queued", end=None, task_states=(None,))
    # Finished on paper, but a task still runs: it stays until the task is done.
    _run(store, "marked_failed", state="failed", task_states=("running",))

    result = clean(store, CUTOFF, log_folder=tmp_path)

    assert result == CleanResult(
        dag_run=2, task_instance=4, task_try=4, xcom=4, log_folders=2, batches=1
    )
    assert _run_ids(store) == {"recent", "running", "queued", "marked_failed"}
    assert _left(store) == {"dag_run": 4, "task_instance": 6, "task_try": 6, "xcom": 6}
    assert not run_log_folder(tmp_path, "etl", "old_success").exists()
    assert not run_log_folder(tmp_path, "etl", "old_failed").exists()
    assert (run_log_folder(tmp_path, "etl", "recent") / "task_id=t0" / "attempt=1.log").exists()


def test_dry_run_counts_and_deletes_nothing(store: Store, tmp_path: Path) -> None:
    _run(store, "a", logs=tmp_path)
    _run(store, "b", state="failed", task_states=("failed",))
    _run(store, "recent", end=RECENT)
    before = _left(store)

    counted = clean(store, CUTOFF, dry_run=True, log_folder=tmp_path)

    assert counted == CleanResult(dag_run=2, task_instance=3, task_try=3, xcom=3, log_folders=1)
    assert _left(store) == before
    assert run_log_folder(tmp_path, "etl", "a").is_dir()
    done = clean(store, CUTOFF, log_folder=tmp_path)
    assert done.as_dict() == {**counted.as_dict(), "batches": 1}


def test_works_in_batches(store: Store) -> None:
    for n in range(7):
        _run(store, f"r{n}", task_states=("success",))

    result = clean(store, CUTOFF, batch_size=3)

    assert (result.dag_run, result.task_instance, result.batches) == (7, 7, 3)
    assert _left(store) == {"dag_run": 0, "task_instance": 0, "task_try": 0, "xcom": 0}


def test_nothing_to_delete(store: Store) -> None:
    _run(store, "recent", end=RECENT)
    assert clean(store, CUTOFF) == CleanResult()
    assert clean(store, CUTOFF, dry_run=True) == CleanResult()


def test_a_run_id_cannot_reach_outside_the_logs_folder(store: Store, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    victim = tmp_path / "victim"
    victim.mkdir()
    logs.mkdir()
    # dag_id=etl/run_id=../../victim resolves to tmp_path/victim.
    (logs / "dag_id=etl").mkdir()
    (logs / "dag_id=etl" / "run_id=..").mkdir()
    _run(store, "../../victim")

    result = clean(store, CUTOFF, log_folder=logs)

    assert result.dag_run == 1 and result.log_folders == 0
    assert victim.is_dir()


def test_bad_arguments(store: Store) -> None:
    with pytest.raises(StoreError, match="needs a timezone"):
        clean(store, datetime(2024, 1, 1))
    with pytest.raises(StoreError, match="batch size must be 1 or more"):
        clean(store, CUTOFF, batch_size=0)
