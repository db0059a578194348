"""The Calendar tab, and the backfill of exactly the missing or failed intervals it offers.

A backfill from here is the CLI's ``dags backfill --rerun-failed-tasks``: it creates the
runs of intervals that have none, reruns the failed tasks of failed runs, and leaves
successful, queued and running runs alone. The preview lists what it would do (as
``--dry-run``); Confirm writes the request the scheduler carries out.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from sluice.actions.common import check_conf
from sluice.actions.run_plans import PlannedRun, backfill_plan, first_start
from sluice.api.deps import DbSession, Operator, Reader
from sluice.api.problems import ApiError
from sluice.store import backfills
from sluice.store.dag_history import runs_in_range
from sluice.store.run_queries import runs_between
from sluice.web.links import dag_url
from sluice.web.pages.dag_header import StoredDag, color, header, load_dag
from sluice.web.pages.dag_intervals import build_calendar, dag_zone, day_range
from sluice.web.rendering import STATE_COLORS, flash, redirect, render
from sluice.web.svg.calendar import draw_calendar

router = APIRouter(include_in_schema=False)

SHOWN_PLANS = 500
"""Most planned runs the preview lists one by one."""

LastDay = Annotated[date | None, Query(description="The last day shown (default: today).")]


@router.get("/dags/{dag_id}/calendar")
def calendar(
    request: Request, dag_id: str, session: DbSession, user: Reader, until: LastDay = None
) -> Response:
    """One cell per data interval over the last months, coloured by its run's state."""
    stored = load_dag(session, dag_id)
    dag = stored.dag
    context: dict[str, Any] = {**header(stored, "calendar"), "periodic": dag.timetable.periodic}
    if dag.timetable.periodic:
        now = datetime.now(UTC)
        today = now.astimezone(dag_zone(dag)).date()
        last_day = min(until or today, today + timedelta(days=366))
        view = build_calendar(
            dag,
            lambda start, end: runs_in_range(session, dag_id, start, end),
            last_day=last_day,
            now=now,
            version=stored.serialized.dag_hash,
        )
        span = view.last_day - view.first_day + timedelta(days=1)
        # The drawing escapes every text it holds.
        svg = Markup(draw_calendar(view.cells, view.column_labels, view.row_labels))
        context |= {
            "view": view,
            "svg": svg,
            "earlier": f"{dag_url(dag_id, 'calendar')}?until={view.first_day - timedelta(days=1)}",
            "later": f"{dag_url(dag_id, 'calendar')}?until={min(today, last_day + span)}"
            if last_day < today else None,
            "legend": [(s, STATE_COLORS[s]) for s in ("success", "failed", "running", "queued")],
        }  # fmt: skip
    return render(request, "dag_calendar.html", context)


def _range(stored: StoredDag, start: date, end: date, now: datetime) -> tuple[datetime, datetime]:
    """The backfill's range in UTC: whole days in the DAG's timezone, cut to the DAG's
    start_date and end_date; a 400 with the reason when nothing of it can be run."""
    dag = stored.dag
    if not dag.timetable.periodic:
        raise ApiError(
            400,
            f"DAG '{dag.dag_id}' has schedule {dag.schedule_summary}, which has no intervals"
            " to backfill; the calendar and backfills need a cron, preset or timedelta schedule",
        )
    if end < start:
        raise ApiError(400, f"the end date {end} is before the start date {start}")
    begin, finish = day_range(start, end, dag_zone(dag))
    if begin > now:
        raise ApiError(400, f"the start date {start} is in the future: a backfill runs"
                       " intervals that have already ended")  # fmt: skip
    dag_start = first_start(dag)
    if dag_start is not None and finish < dag_start:
        raise ApiError(400, f"the range ends before the start_date of DAG '{dag.dag_id}',"
                       f" {dag_start.isoformat()}")  # fmt: skip
    if dag.end_date is not None and begin > dag.end_date:
        raise ApiError(400, f"the range starts after the end_date of DAG '{dag.dag_id}',"
                       f" {dag.end_date.isoformat()}")  # fmt: skip
    if dag_start is not None:
        begin = max(begin, dag_start)
    if dag.end_date is not None:
        finish = min(finish, dag.end_date)
    return begin, finish


def _plan(
    session: Session, stored: StoredDag, start: date, end: date
) -> tuple[datetime, datetime, list[PlannedRun]]:
    now = datetime.now(UTC)
    begin, finish = _range(stored, start, end, now)
    existing = runs_between(session, stored.dag_id, begin, finish)
    plan = backfill_plan(
        stored.dag,
        existing,
        start=begin,
        end=finish,
        reset_dagruns=False,
        rerun_failed_tasks=True,
        now=now,
    )
    return begin, finish, plan


StartDay = Annotated[date, Query(description="First day of the range (the DAG's timezone).")]
EndDay = Annotated[date, Query(description="Last day of the range, included.")]


@router.get("/dags/{dag_id}/calendar/backfill")
def backfill_preview(
    request: Request,
    dag_id: str,
    session: DbSession,
    user: Reader,
    start: StartDay,
    end: EndDay,
) -> Response:
    """What a backfill of the missing and failed intervals from start to end would do."""
    stored = load_dag(session, dag_id)
    begin, finish, plan = _plan(session, stored, start, end)
    acting = [p for p in plan if p.acts]
    context = {
        **header(stored, "calendar"),
        "start": start,
        "end": end,
        "begin": begin,
        "finish": finish,
        "acting": acting[:SHOWN_PLANS],
        "more": max(0, len(acting) - SHOWN_PLANS),
        "total": len(plan),
        "skipped": len(plan) - len(acting),
        "active": backfills.active_backfill(session, dag_id),
        "failed_color": color("failed"),
    }
    return render(request, "dag_backfill.html", context)


@router.post("/dags/{dag_id}/calendar/backfill")
def backfill_confirm(
    request: Request,
    dag_id: str,
    session: DbSession,
    user: Operator,
    start: Annotated[date, Form()],
    end: Annotated[date, Form()],
) -> Response:
    """Create the backfill request the preview showed, and record it in the audit log."""
    stored = load_dag(session, dag_id)
    check_conf(stored.dag, None, label="a backfill without conf")
    begin, finish, plan = _plan(session, stored, start, end)
    acting = [p for p in plan if p.acts]
    calendar_url = dag_url(dag_id, "calendar")
    if not acting:
        flash(request, f"Nothing to backfill from {start} to {end}: every interval has a"
              " successful, queued or running run.", "info")  # fmt: skip
        return redirect(calendar_url)
    request_row = backfills.create_backfill(
        session,
        dag_id=dag_id,
        from_date=begin,
        to_date=finish,
        reset_dagruns=False,
        rerun_failed_tasks=True,
    )
    user.actor(request).record(
        session,
        "dags_backfill",
        dag_id=dag_id,
        extra={
            "backfill_id": request_row.id,
            "from_date": begin.isoformat(),
            "to_date": finish.isoformat(),
            "runs": len(acting),
            "reset_dagruns": False,
            "rerun_failed_tasks": True,
        },
    )
    created = sum(1 for p in acting if p.existing is None)
    flash(
        request,
        f"Backfill {request_row.id} of DAG '{dag_id}' requested: {created} runs to create and"
        f" {len(acting) - created} failed runs to rerun, from {start} to {end}. The scheduler"
        " carries it out.",
        "success",
    )
    return redirect(calendar_url)
