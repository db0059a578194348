"""REST API: the data-quality check results the check operators stored, per try of a task
instance and across every DAG (by table, DAG and outcome)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from sluice.api.deps import DbSession, Paging, Reader
from sluice.api.pagination import Page, fetch
from sluice.api.problems import ApiError
from sluice.api.v1.task_instances import MapIndex, lookup
from sluice.store.check_results import instance_results_query, results_query
from sluice.store.tables import CheckResult

router = APIRouter(tags=["DataQuality"])

TryNumber = Annotated[
    int | None, Query(ge=1, description="Only this try's results (default: every try).")
]


class CheckResultOut(BaseModel):
    """The outcome of one data-quality check in one try of a task instance."""

    dag_id: str
    dag_run_id: str
    task_id: str
    map_index: int
    try_number: int
    check_name: str
    check_type: str = Field(description="column, table, sql, value, threshold or interval.")
    table: str | None
    column: str | None
    observed: str | None = Field(description="The value the check saw, as text (null: NULL).")
    expectation: str = Field(description="What the check wanted, such as `between 10 and 20`.")
    passed: bool
    severity: str = Field(description="error (a failure fails the task) or warn.")
    outcome: str = Field(description="pass, fail, or warn (failed with severity warn).")
    recorded_at: datetime


def result_out(row: CheckResult) -> CheckResultOut:
    """The API's view of a stored result."""
    return CheckResultOut(
        dag_id=row.dag_id,
        dag_run_id=row.run_id,
        task_id=row.task_id,
        map_index=row.map_index,
        try_number=row.try_number,
        check_name=row.check_name,
        check_type=row.check_type,
        table=row.table_name,
        column=row.column_name,
        observed=row.observed,
        expectation=row.expectation,
        passed=row.passed,
        severity=row.severity,
        outcome=row.outcome,
        recorded_at=row.recorded_at,
    )


@router.get(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/checks",
    response_model=Page[CheckResultOut],
)
def list_instance_checks(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    session: DbSession,
    page: Paging,
    user: Reader,
    map_index: MapIndex = None,
    try_number: TryNumber = None,
) -> Page[CheckResultOut]:
    """The check results of a task instance, by try, in the order the checks ran."""
    ti, _ = lookup(session, dag_id, dag_run_id, task_id, map_index)
    if try_number is not None and try_number > max(ti.try_number, 1):
        raise ApiError(
            404,
            f"task '{task_id}' in run '{dag_run_id}' has had {ti.try_number} tr"
            f"{'y' if ti.try_number == 1 else 'ies'}: there is no try {try_number}",
        )
    query = instance_results_query(dag_id, dag_run_id, ti.task_id, ti.map_index, try_number)
    rows, total = fetch(session, query, page)
    items = [result_out(row) for (row,) in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/checks", response_model=Page[CheckResultOut])
def list_checks(
    session: DbSession,
    page: Paging,
    user: Reader,
    table: Annotated[str | None, Query(description="Only checks of this table.")] = None,
    dag_id: Annotated[str | None, Query(description="Only checks run by this DAG.")] = None,
    passed: Annotated[
        bool | None, Query(description="Only passed (true) or failed (false) checks.")
    ] = None,
) -> Page[CheckResultOut]:
    """Check results of every DAG, newest first, filtered by table, DAG and outcome."""
    query = results_query(table=table or None, dag_id=dag_id or None, passed=passed)
    rows, total = fetch(session, query, page)
    items = [result_out(row) for (row,) in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
