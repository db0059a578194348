"""Browse pages: DAG runs, one run (with clear and delete), import errors, the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from sluice.actions.clearing import apply_clear, plan_clear
from sluice.actions.runs import delete_run
from sluice.api.deps import DbSession, Operator, Reader
from sluice.api.pagination import PageNumber, PageRequest, fetch
from sluice.api.v1.dag_runs import run_conf, run_duration
from sluice.core.states import DagRunState
from sluice.store.listings import (
    AuditFilter,
    RunFilter,
    audit_query,
    dag_ids,
    import_error_query,
    run_query,
)
from sluice.store.run_admin import RunBusy
from sluice.store.run_queries import get_run, run_task_instances, state_counts
from sluice.web.dates import day_filter
from sluice.web.links import dag_url, run_url, segment
from sluice.web.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)

RUNS_PER_PAGE = 50
ERRORS_PER_PAGE = 25
AUDIT_PER_PAGE = 50
RUN_TYPES = ("scheduled", "manual", "backfill")


@router.get("/runs")
def runs_page(
    request: Request,
    session: DbSession,
    user: Reader,
    dag_id: str = "",
    state: str = "",
    run_type: str = "",
    start: str = "",
    end: str = "",
    page: PageNumber = 1,
) -> Response:
    """Every DAG's runs, newest first, filtered by DAG, state, type and logical date."""
    errors: dict[str, str] = {}
    state = state if state in {s.value for s in DagRunState} else ""
    run_type = run_type if run_type in RUN_TYPES else ""
    wanted = RunFilter(
        dag_id=dag_id.strip() or None,
        states=[state] if state else (),
        run_types=[run_type] if run_type else (),
        logical_date_gte=day_filter(start, errors, "start"),
        logical_date_lte=day_filter(end, errors, "end", end=True),
    )
    paging = PageRequest.numbered(page, RUNS_PER_PAGE)
    rows, total = fetch(session, run_query(wanted), paging)
    context: dict[str, Any] = {
        "nav": "browse",
        "runs": [(run, run_duration(run), run_url(run.dag_id, run.run_id)) for (run,) in rows],
        "total": total,
        "paging": paging,
        "filters": {
            "dag_id": dag_id,
            "state": state,
            "run_type": run_type,
            "start": start,
            "end": end,
        },
        "errors": errors,
        "dag_ids": dag_ids(session),
        "run_states": [s.value for s in DagRunState],
        "run_types": RUN_TYPES,
    }
    return render(request, "browse_runs.html", context, status=400 if errors else 200)


@router.get("/import-errors")
def import_errors_page(
    request: Request, session: DbSession, user: Reader, page: PageNumber = 1
) -> Response:
    """The DAG files that failed to import, with their tracebacks."""
    paging = PageRequest.numbered(page, ERRORS_PER_PAGE)
    rows, total = fetch(session, import_error_query(), paging)
    context = {
        "nav": "browse",
        "errors": [row for (row,) in rows],
        "total": total,
        "paging": paging,
    }
    return render(request, "browse_import_errors.html", context)


@router.get("/audit-log")
def audit_page(
    request: Request,
    session: DbSession,
    user: Reader,
    dag_id: str = "",
    event: str = "",
    owner: str = "",
    start: str = "",
    end: str = "",
    page: PageNumber = 1,
) -> Response:
    """Who did what and when, from the UI, the API and the CLI; newest first."""
    errors: dict[str, str] = {}
    wanted = AuditFilter(
        dag_id=dag_id.strip() or None,
        event=event.strip() or None,
        owner=owner.strip() or None,
        after=day_filter(start, errors, "start"),
        before=day_filter(end, errors, "end", end=True),
    )
    paging = PageRequest.numbered(page, AUDIT_PER_PAGE)
    rows, total = fetch(session, audit_query(wanted), paging)
    context = {
        "nav": "browse",
        "entries": [row for (row,) in rows],
        "total": total,
        "paging": paging,
        "filters": {"dag_id": dag_id, "event": event, "owner": owner, "start": start, "end": end},
        "errors": errors,
    }
    return render(request, "browse_audit.html", context, status=400 if errors else 200)


def _run_page(
    request: Request, session: DbSession, dag_id: str, run_id: str, **extra: Any
) -> Response:
    run = get_run(session, dag_id, run_id)
    context = {
        "nav": "browse",
        "run": run,
        "conf": run_conf(run),
        "duration": run_duration(run),
        "instances": run_task_instances(session, dag_id, run_id),
        "counts": state_counts(session, dag_id, run_id),
        "dag_url": dag_url(dag_id),
        "run_url": run_url(dag_id, run_id),
        **extra,
    }
    return render(request, "run.html", context)


@router.get("/dags/{dag_id}/runs/{run_id}")
def run_page(
    request: Request, dag_id: str, run_id: str, session: DbSession, user: Reader
) -> Response:
    """One run: its dates, conf and task instances; Operators may clear or delete it."""
    return _run_page(request, session, dag_id, run_id)


@router.post("/dags/{dag_id}/runs/{run_id}/clear")
def clear_run(
    request: Request,
    dag_id: str,
    run_id: str,
    session: DbSession,
    user: Operator,
    only_failed: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Without ``confirm``: the run's page with what a clear would reset. With it: clear."""
    get_run(session, dag_id, run_id)
    failed_only = only_failed == "1"
    plan = plan_clear(session, dag_id, only_failed=failed_only, run_id=run_id)
    if confirm != "1":
        preview = {
            "chosen": [ti for ti, _ in plan.chosen],
            "running": [ti for ti, _ in plan.running],
            "only_failed": failed_only,
        }
        return _run_page(request, session, dag_id, run_id, preview=preview)
    result = apply_clear(session, user.actor(request), plan)
    count = len(result.cleared)
    message = f"Cleared {count} task instance{'s' if count != 1 else ''} of run '{run_id}'."
    if result.requeued_runs:
        message += " The run is queued again."
    flash(request, message, "success")
    return redirect(run_url(dag_id, run_id))


@router.post("/dags/{dag_id}/runs/{run_id}/delete")
def delete_run_page(
    request: Request, dag_id: str, run_id: str, session: DbSession, user: Operator
) -> Response:
    """Delete the run with its task instances, tries and XComs."""
    try:
        counts = delete_run(session, user.actor(request), dag_id, run_id)
    except RunBusy as exc:
        flash(request, str(exc), "error")
        return redirect(run_url(dag_id, run_id))
    flash(
        request,
        f"Run '{run_id}' of DAG '{dag_id}' deleted, with {counts['task_instance']} task instances.",
        "success",
    )
    return redirect(f"/runs?dag_id={segment(dag_id)}")
