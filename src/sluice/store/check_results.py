"""Data-quality check results: written by the task process after its checks ran, read by
the task instance page, the /checks pages and the REST API."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from sluice.core.messages import TaskInstanceKey
from sluice.core.states import TaskInstanceState
from sluice.store.tables import CheckResult, DagRun, TaskTry
from sluice.store.transitions import now

RunKey = tuple[str, str]
"""A DAG run: (dag_id, run_id)."""


@dataclass(frozen=True)
class NewCheckResult:
    """One check's outcome, as the task process hands it over to be stored."""

    check_name: str
    check_type: str
    table_name: str | None
    column_name: str | None
    observed: str | None
    expectation: str
    passed: bool
    severity: str


def is_running_here(
    session: Session, key: TaskInstanceKey, try_number: int, *, pid: int, hostname: str
) -> bool:
    """Whether try ``try_number`` of ``key`` is running in this process by the metadata
    database (the task runner's try); not so in ``sluice dags test``, which writes nothing."""
    found = session.scalar(
        select(TaskTry.id).where(
            TaskTry.dag_id == key.dag_id,
            TaskTry.run_id == key.run_id,
            TaskTry.task_id == key.task_id,
            TaskTry.map_index == key.map_index,
            TaskTry.try_number == try_number,
            TaskTry.state == TaskInstanceState.RUNNING.value,
            TaskTry.pid == pid,
            TaskTry.hostname == hostname,
        )
    )
    return found is not None


def add_check_results(
    session: Session,
    key: TaskInstanceKey,
    try_number: int,
    results: Iterable[NewCheckResult],
    *,
    when: datetime | None = None,
) -> int:
    """Store the outcomes of one try's checks; returns how many rows were added."""
    stamp = when or now()
    rows = [
        CheckResult(
            dag_id=key.dag_id, run_id=key.run_id, task_id=key.task_id,
            map_index=key.map_index, try_number=try_number, check_name=result.check_name,
            check_type=result.check_type, table_name=result.table_name,
            column_name=result.column_name, observed=result.observed,
            expectation=result.expectation, passed=result.passed, severity=result.severity,
            recorded_at=stamp,
        )
        for result in results
    ]  # fmt: skip
    session.add_all(rows)
    return len(rows)


def instance_results_query(
    dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int | None = None
) -> Select[CheckResult]:
    """The results of a task instance (of one try, or of every try), by try then as the
    checks ran."""
    query = select(CheckResult).where(
        CheckResult.dag_id == dag_id,
        CheckResult.run_id == run_id,
        CheckResult.task_id == task_id,
        CheckResult.map_index == map_index,
    )
    if try_number is not None:
        query = query.where(CheckResult.try_number == try_number)
    return query.order_by(CheckResult.try_number, CheckResult.id)


def instance_results(
    session: Session, dag_id: str, run_id: str, task_id: str, map_index: int
) -> list[CheckResult]:
    """Every try's results of a task instance (a few rows per try)."""
    return list(session.scalars(instance_results_query(dag_id, run_id, task_id, map_index)))


def results_query(
    *, table: str | None = None, dag_id: str | None = None, passed: bool | None = None
) -> Select[CheckResult]:
    """Results of every DAG, newest first, filtered by table, DAG and outcome."""
    query = select(CheckResult)
    if table is not None:
        query = query.where(CheckResult.table_name == table)
    if dag_id is not None:
        query = query.where(CheckResult.dag_id == dag_id)
    if passed is not None:
        query = query.where(CheckResult.passed == passed)
    return query.order_by(CheckResult.id.desc())


def checked_tables_query() -> Select[Any]:
    """One row per table with results: how many, how many failed (errors) or warned, and
    when it was last checked; the most recently checked first."""
    failed = and_(CheckResult.passed.is_(False), CheckResult.severity != "warn")
    warned = and_(CheckResult.passed.is_(False), CheckResult.severity == "warn")
    query = (
        select(
            CheckResult.table_name,
            func.count().label("results"),
            func.sum(case((failed, 1), else_=0)).label("failed"),
            func.sum(case((warned, 1), else_=0)).label("warned"),
            func.max(CheckResult.recorded_at).label("last_checked"),
        )
        .where(CheckResult.table_name.is_not(None))
        .group_by(CheckResult.table_name)
        .order_by(func.max(CheckResult.id).desc())
    )
    return cast("Select[Any]", query)  # rows of several columns, as the pages read them


def table_runs_query(table: str) -> Select[Any]:
    """The runs that checked ``table``, the latest checked first: (dag_id, run_id)."""
    query = (
        select(CheckResult.dag_id, CheckResult.run_id)
        .where(CheckResult.table_name == table)
        .group_by(CheckResult.dag_id, CheckResult.run_id)
        .order_by(func.max(CheckResult.id).desc())
    )
    return cast("Select[Any]", query)


def table_results_in_runs(
    session: Session, table: str, runs: Sequence[RunKey]
) -> list[CheckResult]:
    """Every result about ``table`` in these runs (every try), oldest first."""
    if not runs:
        return []
    in_runs = or_(
        *(and_(CheckResult.dag_id == dag, CheckResult.run_id == run) for dag, run in runs)
    )
    query = select(CheckResult).where(CheckResult.table_name == table, in_runs)
    return list(session.scalars(query.order_by(CheckResult.id)))


def run_dates(session: Session, runs: Sequence[RunKey]) -> dict[RunKey, datetime]:
    """The logical date of each of these runs that still exists."""
    if not runs:
        return {}
    in_runs = or_(*(and_(DagRun.dag_id == dag, DagRun.run_id == run) for dag, run in runs))
    rows = session.execute(select(DagRun.dag_id, DagRun.run_id, DagRun.logical_date).where(in_runs))
    return {(dag, run): when for dag, run, when in rows}
