"""A DAG's page: the header and its tabs Grid, Graph, Gantt, Code and Details.

Run durations and the Calendar live in ``dag_charts`` and ``dag_calendar``; their routes
are included here. Every read is bounded: the last N runs, one run, or a date range.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from sluice.api.deps import DbSession, Reader
from sluice.core.states import DagRunState
from sluice.store.dag_history import (
    DEFAULT_RUNS,
    MAX_RUNS,
    RunSummary,
    find_run,
    grid_instances,
    recent_runs,
    run_tries,
)
from sluice.web.links import dag_url, instance_url
from sluice.web.pages import dag_calendar, dag_charts, dag_source
from sluice.web.pages.dag_graph import graph_svg
from sluice.web.pages.dag_grid import build_grid, grid_columns
from sluice.web.pages.dag_header import color, header, load_dag
from sluice.web.rendering import format_datetime, format_duration, redirect, render
from sluice.web.svg.gantt import GanttBar, draw_gantt

router = APIRouter(include_in_schema=False)
router.include_router(dag_charts.router)
router.include_router(dag_calendar.router)
router.include_router(dag_source.router)

ACTIVE = (DagRunState.QUEUED.value, DagRunState.RUNNING.value)
REFRESH = "every 3s"
"""How often the grid asks again while a run is queued or running."""

Runs = Annotated[int, Query(ge=1, le=MAX_RUNS, description="How many of the last runs.")]
RunId = Annotated[str | None, Query(description="The run to show (default: the latest).")]


@router.get("/dags/{dag_id}")
def dag_home(dag_id: str, session: DbSession, user: Reader) -> Response:
    """A DAG's page opens on its grid."""
    load_dag(session, dag_id)
    return redirect(dag_url(dag_id, "grid"))


def _grid_context(session: DbSession, dag_id: str, runs: int) -> dict[str, object]:
    stored = load_dag(session, dag_id)
    history = recent_runs(session, dag_id, runs)
    instances = grid_instances(session, dag_id, [r.run_id for r in history])
    active = any(r.state in ACTIVE for r in history)
    return {
        **header(stored, "grid"),
        "runs": runs,
        "columns": grid_columns(dag_id, history),
        "rows": build_grid(stored.dag, history, instances),
        "refresh": REFRESH if active else None,
        "table_url": f"{dag_url(dag_id, 'grid')}/table?runs={runs}",
        "run_choices": sorted({5, 10, DEFAULT_RUNS, 50, 100, runs}),
    }


@router.get("/dags/{dag_id}/grid")
def grid(
    request: Request, dag_id: str, session: DbSession, user: Reader, runs: Runs = DEFAULT_RUNS
) -> Response:
    """Runs as columns (newest on the right), tasks as rows grouped by TaskGroup."""
    return render(request, "dag_grid.html", _grid_context(session, dag_id, runs))


@router.get("/dags/{dag_id}/grid/table")
def grid_table(
    request: Request, dag_id: str, session: DbSession, user: Reader, runs: Runs = DEFAULT_RUNS
) -> Response:
    """The grid alone, which htmx fetches again while a run is queued or running."""
    return render(request, "dag_grid_table.html", _grid_context(session, dag_id, runs))


def _selected_run(
    session: DbSession, dag_id: str, run_id: str | None
) -> tuple[RunSummary | None, list[RunSummary]]:
    """The run asked for (else the latest) and the recent runs to choose from."""
    choices = list(reversed(recent_runs(session, dag_id, DEFAULT_RUNS)))
    if run_id is None:
        return (choices[0] if choices else None), choices
    run = find_run(session, dag_id, run_id)
    if all(c.run_id != run.run_id for c in choices):
        choices.append(run)
    return run, choices


@router.get("/dags/{dag_id}/graph")
def graph(
    request: Request, dag_id: str, session: DbSession, user: Reader, run_id: RunId = None
) -> Response:
    """The DAG drawn in layers, nodes coloured by their state in the selected run."""
    stored = load_dag(session, dag_id)
    run, choices = _selected_run(session, dag_id, run_id)
    instances = grid_instances(session, dag_id, [run.run_id]) if run else []
    svg = graph_svg(stored, run, instances)
    return render(
        request,
        "dag_graph.html",
        {**header(stored, "graph"), "run": run, "choices": choices, "svg": svg},
    )


@router.get("/dags/{dag_id}/gantt")
def gantt(
    request: Request, dag_id: str, session: DbSession, user: Reader, run_id: RunId = None
) -> Response:
    """The selected run's task tries on a time axis."""
    stored = load_dag(session, dag_id)
    run, choices = _selected_run(session, dag_id, run_id)
    tries = run_tries(session, dag_id, run.run_id) if run else []
    now = datetime.now(UTC)
    bars = []
    for t in tries:
        if t.start_date is None:
            continue
        label = t.task_id if t.map_index < 0 else f"{t.task_id} [{t.map_index}]"
        if t.try_number > 1:
            label += f" (try {t.try_number})"
        end = t.end_date or now
        title = (
            f"{label}\nstate: {t.state or 'no status'}\nstarted: {format_datetime(t.start_date)}"
            f"\nended: {format_datetime(t.end_date, 'still running')}"
            f"\nduration: {format_duration((end - t.start_date).total_seconds())}"
        )
        # A try number 0 is an instance that never ran (skipped): its page has no try.
        try_number = t.try_number if t.try_number >= 1 else None
        href = (
            instance_url(dag_id, run.run_id, t.task_id, map_index=t.map_index,
                         try_number=try_number) if run else None
        )  # fmt: skip
        bars.append(GanttBar(label, t.start_date, end, color(t.state), href, title))
    return render(
        request,
        "dag_gantt.html",
        {
            **header(stored, "gantt"),
            "run": run,
            "choices": choices,
            "svg": Markup(draw_gantt(bars)),
            "not_started": sum(1 for t in tries if t.start_date is None),
        },
    )
