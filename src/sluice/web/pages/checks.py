"""Pages: data-quality checks. ``/checks`` lists the tables that checks have looked at;
``/checks?table=<t>`` shows that table's checks over its latest runs as a grid (checks as
rows, runs as columns, newest first); the task instance page gets a card with the shown
try's results (:func:`try_checks`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from sluice.api.deps import DbSession, Reader
from sluice.api.pagination import PageNumber, PageRequest, fetch
from sluice.store.check_results import (
    RunKey,
    checked_tables_query,
    instance_results,
    run_dates,
    table_results_in_runs,
    table_runs_query,
)
from sluice.store.tables import CheckResult, TaskInstance
from sluice.web.rendering import render

router = APIRouter(include_in_schema=False)

TABLES_PER_PAGE = 50
RUNS_PER_PAGE = 20


@dataclass(frozen=True)
class TryChecks:
    """The check results the task instance page shows: those of the shown try, and which
    tries have any."""

    shown_try: int
    results: list[CheckResult]
    tries: list[int]


def try_checks(session: Session, ti: TaskInstance, shown_try: int) -> TryChecks:
    """The instance's check results of ``shown_try`` (one query for every try: a few rows)."""
    every = instance_results(session, ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
    shown = [row for row in every if row.try_number == shown_try]
    return TryChecks(shown_try, shown, sorted({row.try_number for row in every}))


@dataclass(frozen=True)
class CheckKey:
    """One row of a table's grid: a check as a task defines it."""

    dag_id: str
    task_id: str
    map_index: int
    check_name: str
    column_name: str | None


@dataclass
class Grid:
    """A table's checks (rows) over runs (columns, newest first): each cell the result of
    the latest try of that run that ran the check."""

    runs: list[tuple[RunKey, datetime | None]]
    keys: list[CheckKey] = field(default_factory=list)
    cells: dict[tuple[CheckKey, RunKey], CheckResult] = field(default_factory=dict)


def table_grid(session: Session, table: str, runs: list[RunKey]) -> Grid:
    """The grid of ``table`` over ``runs``."""
    dates = run_dates(session, runs)
    grid = Grid(runs=[(run, dates.get(run)) for run in runs])
    for row in table_results_in_runs(session, table, runs):  # oldest first: later tries win
        key = CheckKey(row.dag_id, row.task_id, row.map_index, row.check_name, row.column_name)
        grid.cells[(key, (row.dag_id, row.run_id))] = row
    grid.keys = sorted(
        {key for key, _ in grid.cells},
        key=lambda k: (k.dag_id, k.task_id, k.map_index, k.column_name or "", k.check_name),
    )
    return grid


@router.get("/checks")
def checks_page(
    request: Request,
    session: DbSession,
    user: Reader,
    table: str = "",
    page: PageNumber = 1,
) -> Response:
    """The checked tables; with ``table``, that table's checks over its latest runs."""
    table = table.strip()
    if not table:
        paging = PageRequest.numbered(page, TABLES_PER_PAGE)
        rows, total = fetch(session, checked_tables_query(), paging)
        context: dict[str, Any] = {
            "nav": "browse", "tables": rows, "total": total, "paging": paging,
        }  # fmt: skip
        return render(request, "checks_tables.html", context)
    paging = PageRequest.numbered(page, RUNS_PER_PAGE)
    rows, total = fetch(session, table_runs_query(table), paging)
    grid = table_grid(session, table, [(dag_id, run_id) for dag_id, run_id in rows])
    context = {"nav": "browse", "table": table, "grid": grid, "total": total, "paging": paging}
    return render(request, "checks_table.html", context, status=200 if total else 404)
