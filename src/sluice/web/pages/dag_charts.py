"""The Run durations tab: how long the last N runs took, and each task within them."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from sluice.api.deps import DbSession, Reader
from sluice.store.dag_history import DEFAULT_RUNS, MAX_RUNS, recent_runs, task_spans
from sluice.web.links import run_url
from sluice.web.pages.dag_header import color, header, load_dag
from sluice.web.rendering import format_datetime, format_duration, render
from sluice.web.svg.durations import (
    PALETTE,
    RunBar,
    Series,
    draw_run_durations,
    draw_task_durations,
)

router = APIRouter(include_in_schema=False)

Runs = Annotated[int, Query(ge=1, le=MAX_RUNS, description="How many of the last runs.")]


@router.get("/dags/{dag_id}/durations")
def durations(
    request: Request, dag_id: str, session: DbSession, user: Reader, runs: Runs = DEFAULT_RUNS
) -> Response:
    """Bars of the last ``runs`` runs' durations and a line per task's duration."""
    stored = load_dag(session, dag_id)
    history = recent_runs(session, dag_id, runs)
    bars = [
        RunBar(
            r.duration,
            color(r.state),
            run_url(dag_id, r.run_id),
            f"{r.run_id}\nstate: {r.state}\nlogical date: {format_datetime(r.logical_date)}"
            f"\nduration: {format_duration(r.duration, 'not finished')}",
        )
        for r in history
    ]
    column = {r.run_id: i for i, r in enumerate(history)}
    per_task: dict[str, list[float | None]] = defaultdict(lambda: [None] * len(history))
    for span in task_spans(session, dag_id, list(column)):
        per_task[span.task_id][column[span.run_id]] = span.duration
    order = [t for t in stored.dag.tasks if t in per_task]
    series = [
        Series(task_id, per_task[task_id], PALETTE[i % len(PALETTE)])
        for i, task_id in enumerate(order)
    ]
    # Both drawings escape every text they hold.
    context = {
        **header(stored, "durations"),
        "runs": runs,
        "history": history,
        "run_chart": Markup(draw_run_durations(bars)),
        "task_chart": Markup(draw_task_durations(len(history), series)),
        "series": series,
        "run_choices": sorted({5, 10, DEFAULT_RUNS, 50, 100, runs}),
    }
    return render(request, "dag_durations.html", context)
