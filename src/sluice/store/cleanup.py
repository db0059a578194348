"""Deleting old history: finished runs with their task instances, tries, XComs and log files.

Only runs that ended (success or failed) before the cut-off go, and never one that still
has a task instance queued or running. Work is done in batches, one transaction each, so
that a big clean-up never holds long locks; a run's log folder is removed after the batch
that deleted its rows committed, so a failed batch leaves the logs of rows it kept.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, delete, exists, func, select, tuple_
from sqlalchemy.orm import Session, aliased

from sluice.core.errors import StoreError
from sluice.core.states import DagRunState, TaskInstanceState
from sluice.store.engine import Store
from sluice.store.tables import CheckResult, DagRun, TaskInstance, TaskTry, XCom

_FINISHED = [DagRunState.SUCCESS.value, DagRunState.FAILED.value]
_ACTIVE_TASKS = [
    TaskInstanceState.QUEUED.value,
    TaskInstanceState.RUNNING.value,
    TaskInstanceState.RESTARTING.value,
]


@dataclass
class CleanResult:
    """How many rows (and log folders) were deleted, or would be in a dry run."""

    dag_run: int = 0
    task_instance: int = 0
    task_try: int = 0
    xcom: int = 0
    log_folders: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts by table name (and ``log_folders``, ``batches``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def run_log_folder(log_folder: Path, dag_id: str, run_id: str) -> Path:
    """Where a run's task logs live: ``<log_folder>/dag_id=<id>/run_id=<id>``."""
    return log_folder / f"dag_id={dag_id}" / f"run_id={run_id}"


def clean(
    store: Store,
    older_than: datetime,
    *,
    dry_run: bool = False,
    batch_size: int = 1000,
    log_folder: Path | None = None,
) -> CleanResult:
    """Delete finished runs that ended before ``older_than`` and everything that is theirs."""
    if older_than.tzinfo is None:
        raise StoreError(f"the cut-off {older_than.isoformat()} needs a timezone")
    if batch_size < 1:
        raise StoreError(f"batch size must be 1 or more, not {batch_size}")
    if dry_run:
        with store.transaction() as session:
            return _count(session, older_than, log_folder)
    result = CleanResult()
    while True:
        with store.transaction() as session:
            runs = _lock_batch(session, store.backend, older_than, batch_size)
            if runs:
                _delete_batch(session, runs, result)
        if not runs:
            return result
        result.batches += 1
        if log_folder is not None:
            result.log_folders += sum(_remove_logs(log_folder, d, r) for _, d, r in runs)
        if len(runs) < batch_size:
            return result


_Run = tuple[int, str, str]


def _old_finished_runs(older_than: datetime) -> ColumnElement[bool]:
    """The runs to delete: finished before the cut-off, with no task still at work."""
    busy = aliased(TaskInstance)
    working = (
        exists()
        .where(
            busy.dag_id == DagRun.dag_id,
            busy.run_id == DagRun.run_id,
            busy.state.in_(_ACTIVE_TASKS),
        )
        .correlate(DagRun)
    )
    return (
        DagRun.state.in_(_FINISHED)
        & DagRun.end_date.is_not(None)
        & (DagRun.end_date < older_than)
        & ~working
    )


def _lock_batch(session: Session, backend: str, older_than: datetime, size: int) -> list[_Run]:
    query = (
        select(DagRun.id, DagRun.dag_id, DagRun.run_id)
        .where(_old_finished_runs(older_than))
        .order_by(DagRun.id)
        .limit(size)
    )
    # Rows another process holds (a user clearing the run) are left for the next clean-up;
    # SQLite has no row locks, but its writers take turns anyway.
    if backend != "sqlite":
        query = query.with_for_update(skip_locked=True)
    return [(row[0], row[1], row[2]) for row in session.execute(query)]


def _delete_batch(session: Session, runs: Sequence[_Run], result: CleanResult) -> None:
    ids = [run_pk for run_pk, _, _ in runs]
    keys = [(dag_id, run_id) for _, dag_id, run_id in runs]
    # XComs would go with their run (ON DELETE CASCADE); deleting them first counts them.
    result.xcom += _rowcount(session, delete(XCom).where(XCom.dag_run_id.in_(ids)))
    # Check results are history of their run too (the /checks pages show recent runs).
    session.execute(
        delete(CheckResult)
        .where(tuple_(CheckResult.dag_id, CheckResult.run_id).in_(keys))
        .execution_options(synchronize_session=False)
    )
    result.task_try += _rowcount(
        session, delete(TaskTry).where(tuple_(TaskTry.dag_id, TaskTry.run_id).in_(keys))
    )
    result.task_instance += _rowcount(
        session,
        delete(TaskInstance).where(tuple_(TaskInstance.dag_id, TaskInstance.run_id).in_(keys)),
    )
    result.dag_run += _rowcount(session, delete(DagRun).where(DagRun.id.in_(ids)))


def _rowcount(session: Session, statement: Any) -> int:
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        statement.execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


def _count(session: Session, older_than: datetime, log_folder: Path | None) -> CleanResult:
    old = _old_finished_runs(older_than)

    def count_of(table: Any, *join_on: ColumnElement[bool]) -> int:
        query = select(func.count()).select_from(table).join(DagRun, *join_on).where(old)
        return int(session.scalar(query) or 0)

    result = CleanResult(
        dag_run=int(session.scalar(select(func.count()).select_from(DagRun).where(old)) or 0),
        task_instance=count_of(
            TaskInstance,
            (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id),
        ),
        task_try=count_of(
            TaskTry, (DagRun.dag_id == TaskTry.dag_id) & (DagRun.run_id == TaskTry.run_id)
        ),
        xcom=count_of(XCom, DagRun.id == XCom.dag_run_id),
    )
    if log_folder is not None:
        pairs = session.execute(select(DagRun.dag_id, DagRun.run_id).where(old))
        result.log_folders = sum(
            run_log_folder(log_folder, dag_id, run_id).is_dir() for dag_id, run_id in pairs
        )
    return result


def _remove_logs(log_folder: Path, dag_id: str, run_id: str) -> bool:
    folder = run_log_folder(log_folder, dag_id, run_id)
    # An id holding "../" must not reach outside the logs folder.
    if not folder.resolve().is_relative_to(log_folder.resolve()) or not folder.is_dir():
        return False
    # The dag_id= folder stays even when empty: a task of another run may be creating its
    # own folder inside it right now.
    shutil.rmtree(folder, ignore_errors=True)
    return not folder.exists()
