"""The DAG list (home page), and pausing, unpausing and deleting a DAG from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from sluice.actions.dags import CatchupNeedsConfirmation, delete_dag, set_paused, unpause
from sluice.api.deps import Ctx, DbSession, Operator, Reader
from sluice.api.pagination import PageNumber, PageRequest, fetch
from sluice.core.errors import StoreError
from sluice.core.states import DagRunState
from sluice.store.listings import (
    DagFilter,
    DagSummary,
    dag_query,
    dag_summaries,
    filter_choices,
    import_error_count,
    split_owners,
    split_tags,
)
from sluice.store.run_queries import get_dag
from sluice.store.tables import Dag
from sluice.web.links import dag_url, safe_next
from sluice.web.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
STATUSES = ("all", "active", "paused")
"""The paused filter: ``active`` means unpaused, as in Airflow's UI."""


@dataclass(frozen=True)
class DagRow:
    """One line of the DAG list."""

    dag: Dag
    tags: list[str]
    owners: list[str]
    summary: DagSummary

    @property
    def url(self) -> str:
        """The path prefix of the DAG's pages."""
        return dag_url(self.dag.dag_id)


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (it wants a fragment, not a page)."""
    return request.headers.get("HX-Request") == "true"


@router.get("/")
def dag_list(
    request: Request,
    session: DbSession,
    user: Reader,
    q: str = "",
    tag: str = "",
    owner: str = "",
    status: str = "all",
    last_run: str = "",
    page: PageNumber = 1,
) -> Response:
    """Every active DAG with its schedule, last run and recent states; filters, pages."""
    status = status if status in STATUSES else "all"
    last_run = last_run if last_run in {s.value for s in DagRunState} else ""
    wanted = DagFilter(
        search=q.strip() or None,
        tags=[tag] if tag else (),
        owners=[owner] if owner else (),
        paused=None if status == "all" else status == "paused",
        last_run_state=last_run or None,
    )
    paging = PageRequest.numbered(page, PAGE_SIZE)
    rows, total = fetch(session, dag_query(wanted), paging)
    dags = [dag for (dag,) in rows]
    summaries = dag_summaries(session, [dag.dag_id for dag in dags])
    context: dict[str, Any] = {
        "nav": "dags",
        "rows": [
            DagRow(dag, split_tags(dag.tags), split_owners(dag.owners or ""), summaries[dag.dag_id])
            for dag in dags
        ],
        "total": total,
        "paging": paging,
        "filters": {"q": q, "tag": tag, "owner": owner, "status": status, "last_run": last_run},
        "choices": filter_choices(session),
        "statuses": STATUSES,
        "run_states": [s.value for s in DagRunState],
        "import_errors": import_error_count(session),
    }
    return render(request, "dags.html", context)


def _toggle(
    request: Request, dag: Dag, *, status: int = 200, catchup: Any = None, next_url: str = "/"
) -> Response:
    """The pause toggle of one DAG (a fragment for htmx, else a page around it)."""
    context = {"dag": dag, "catchup": catchup, "next": next_url, "url": dag_url(dag.dag_id)}
    template = "dags_toggle.html" if is_htmx(request) else "dags_toggle_page.html"
    return render(request, template, context, status=status)


@router.get("/dags/{dag_id}/toggle")
def pause_toggle(request: Request, dag_id: str, session: DbSession, user: Reader) -> Response:
    """The pause toggle of a DAG (what htmx puts back when an unpause is cancelled)."""
    return _toggle(request, get_dag(session, dag_id))


@router.post("/dags/{dag_id}/pause")
def pause(
    request: Request,
    dag_id: str,
    session: DbSession,
    user: Operator,
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Pause the DAG: the scheduler creates no run of it and starts no task of its runs."""
    set_paused(session, user.actor(request), dag_id, True)
    if is_htmx(request):
        return _toggle(request, get_dag(session, dag_id))
    flash(request, f"DAG '{dag_id}' paused.", "success")
    return redirect(safe_next(next))


@router.post("/dags/{dag_id}/unpause")
def unpause_dag(
    request: Request,
    dag_id: str,
    session: DbSession,
    ctx: Ctx,
    user: Operator,
    confirm: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Unpause the DAG; when that starts more catchup runs than [scheduler]
    catchup_confirm_threshold, say how many and ask first (``confirm=1`` goes ahead)."""
    threshold = ctx.settings.get_int("scheduler", "catchup_confirm_threshold")
    try:
        preview = unpause(
            session, user.actor(request), dag_id, threshold=threshold, confirmed=confirm == "1"
        )
    except CatchupNeedsConfirmation as exc:
        return _toggle(request, get_dag(session, dag_id), catchup=exc, next_url=safe_next(next))
    if is_htmx(request):
        return _toggle(request, get_dag(session, dag_id))
    message = f"DAG '{dag_id}' unpaused."
    if preview is not None and preview.summary:
        message += f" Catchup starts: {preview.summary}."
    flash(request, message, "success")
    return redirect(safe_next(next))


@router.post("/dags/{dag_id}/delete")
def delete(
    request: Request,
    dag_id: str,
    session: DbSession,
    user: Operator,
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Delete the DAG with its history (the audit log stays)."""
    try:
        fileloc, counts = delete_dag(session, user.actor(request), dag_id)
    except StoreError as exc:
        flash(request, str(exc), "error")
        return redirect(safe_next(next))
    runs, instances = counts.get("dag_run", 0), counts.get("task_instance", 0)
    message = f"DAG '{dag_id}' deleted, with {runs} runs and {instances} task instances."
    if fileloc and Path(fileloc).exists():
        message += (
            f" Its file {fileloc} is still there: the DAG processor adds the DAG back at its"
            " next parse."
        )
    flash(request, message, "success")
    target = safe_next(next)
    # The DAG's own pages are gone: go home instead.
    return redirect("/" if target.startswith(dag_url(dag_id)) else target)
