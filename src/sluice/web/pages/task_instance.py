"""Pages: one task instance (attributes, tries, rendered fields, XComs, the log of a try
with live tailing, clear and mark actions) and the task instance browser with bulk clear.

Every action first shows exactly what it will change and asks to confirm; the confirming
form carries the ids it showed, so that no more than those is changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from sluice.actions.clearing import ClearPlan, apply_clear, mark_instance, plan_clear
from sluice.actions.common import ActionRefused, load_stored_dag
from sluice.api.context import AppContext
from sluice.api.deps import Ctx, DbSession, Operator, Reader
from sluice.api.log_files import MAX_CHUNK, TryLog, find_try_log, read_log, stream_log
from sluice.api.problems import ApiError
from sluice.api.security import CurrentUser
from sluice.api.v1.task_instances import STATE_NAMES, check_states, narrow, rendered_fields
from sluice.api.v1.xcoms import decoded
from sluice.core.errors import DagNotFound
from sluice.core.states import TaskInstanceState
from sluice.parsing.serialized import SerializedTask
from sluice.store.run_queries import get_run
from sluice.store.tables import DagRun, TaskInstance
from sluice.store.ti_listings import (
    InstanceFilter,
    find_instance,
    instance_tries,
    instance_xcoms,
    instances_by_ids,
    page_of_instances,
    task_map_indexes,
)
from sluice.web.dates import parse_day
from sluice.web.links import instance_url
from sluice.web.pages.checks import try_checks
from sluice.web.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_BULK = 500
"""Most instances one bulk clear takes (a page of the browser holds fewer)."""
MAX_XCOMS = 100
LOG_POLL = "every 1500ms"
STOP_POLLING = 286
"""htmx stops polling an element when its request is answered with this status."""
MARKS = {"success": TaskInstanceState.SUCCESS, "failed": TaskInstanceState.FAILED}


def _map_query(ti: TaskInstance) -> int | None:
    return ti.map_index if ti.map_index >= 0 else None


# -- the task instance page ---------------------------------------------------------------


@router.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}")
def task_instance_page(
    request: Request,
    dag_id: str,
    run_id: str,
    task_id: str,
    session: DbSession,
    ctx: Ctx,
    user: Reader,
    map_index: Annotated[int | None, Query(ge=-1)] = None,
    try_number: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """A task instance: attributes, tries, rendered fields, XComs, a try's log, actions."""
    run = get_run(session, dag_id, run_id)
    indexes = task_map_indexes(session, dag_id, run_id, task_id)
    if map_index is None and len(indexes) > 1:
        links = [
            (i, state, instance_url(dag_id, run_id, task_id, map_index=i)) for i, state in indexes
        ]
        return render(request, "ti_mapped.html", {"nav": "dags", "dag_id": dag_id, "run": run,
                                                  "task_id": task_id, "links": links})  # fmt: skip
    ti = find_instance(session, dag_id, run_id, task_id, map_index)
    tries = instance_tries(session, ti)
    shown_try = try_number or max([ti.try_number, *(t.try_number for t in tries)]) or 1
    log: dict[str, Any] | None = None
    log_error = ""
    try:
        found = find_try_log(session, ctx.log_folder, ti, shown_try)
        chunk = read_log(found.path, 0, over=found.over, masker=ctx.secrets.masker())
        poll = _poll(dag_id, run_id, ti, shown_try, chunk.offset, 0)
        log = {"try_number": shown_try, "content": chunk.content, "finished": chunk.finished,
               "poll": poll}  # fmt: skip
    except ApiError as exc:
        if exc.status == 403:
            log_error = exc.detail  # the rest of the page is still worth seeing
        elif try_number is not None:
            raise  # a try that does not exist
    xcoms = [
        (row.key, ctx.secrets.redact(decoded(row.value), row.key))
        for row in instance_xcoms(session, run, ti, MAX_XCOMS)
    ]
    href = instance_url(dag_id, run_id, task_id, map_index=_map_query(ti))
    return render(request, "ti_page.html", {
        "nav": "dags", "dag_id": dag_id, "run": run, "ti": ti, "tries": tries,
        "shown_try": shown_try, "log": log, "log_error": log_error, "xcoms": xcoms,
        "max_xcoms": MAX_XCOMS,
        "rendered": ctx.secrets.redact(rendered_fields(ti)),
        "task": _task_definition(session, dag_id, task_id),
        "try_errors": {t.try_number: ctx.secrets.mask_text(t.error or "") for t in tries},
        "siblings": indexes if ti.map_index >= 0 else [], "href": href,
        "map_query": _map_query(ti), "checks": try_checks(session, ti, shown_try),
    })  # fmt: skip


def _task_definition(session: Session, dag_id: str, task_id: str) -> SerializedTask | None:
    """The task as the stored DAG defines it now (None: no longer in the DAG)."""
    try:
        return load_stored_dag(session, dag_id).tasks.get(task_id)
    except DagNotFound:
        return None


def _poll(
    dag_id: str, run_id: str, ti: TaskInstance, try_number: int, offset: int, start: int
) -> dict[str, str]:
    """The htmx attributes of the element that fetches the log's next piece: at once when
    the last read stopped at the piece size (more is waiting), else every 1.5 s."""
    url = instance_url(dag_id, run_id, ti.task_id, "/log", try_number=try_number,
                  map_index=_map_query(ti), offset=offset)  # fmt: skip
    more_waiting = offset - start >= MAX_CHUNK - 4
    return {"url": url, "trigger": "load" if more_waiting else LOG_POLL}


@router.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/log")
def log_piece(
    request: Request,
    dag_id: str,
    run_id: str,
    task_id: str,
    session: DbSession,
    ctx: Ctx,
    user: Reader,
    try_number: Annotated[int, Query(ge=1)],
    map_index: Annotated[int | None, Query(ge=-1)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The log's text after ``offset`` (for htmx polling); answered with 286 to stop the
    polling once the try is over and its log read to the end."""
    ti, found = _try_log(session, ctx, dag_id, run_id, task_id, map_index, try_number)
    chunk = read_log(found.path, offset, over=found.over, masker=ctx.secrets.masker())
    poll = None if chunk.finished else _poll(dag_id, run_id, ti, try_number, chunk.offset, offset)
    status = STOP_POLLING if chunk.finished else 200
    return render(request, "ti_log_piece.html", {"content": chunk.content, "poll": poll},
                  status=status)  # fmt: skip


@router.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/log/download")
def download_log(
    dag_id: str,
    run_id: str,
    task_id: str,
    session: DbSession,
    ctx: Ctx,
    user: Reader,
    try_number: Annotated[int, Query(ge=1)],
    map_index: Annotated[int | None, Query(ge=-1)] = None,
) -> Response:
    """The whole log file of a try, as text."""
    ti, found = _try_log(session, ctx, dag_id, run_id, task_id, map_index, try_number)
    suffix = f"_map{ti.map_index}" if ti.map_index >= 0 else ""
    name = f"{dag_id}_{run_id}_{task_id}{suffix}_attempt{try_number}.log"
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    headers = {"Content-Disposition": f'attachment; filename="{safe}"'}
    body = stream_log(found.path, ctx.secrets.masker())
    return StreamingResponse(body, media_type="text/plain; charset=utf-8", headers=headers)


def _try_log(
    session: Session,
    ctx: AppContext,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int | None,
    try_number: int,
) -> tuple[TaskInstance, TryLog]:
    """The instance and where its try's log is (404 for an unknown run, task or try)."""
    get_run(session, dag_id, run_id)
    ti = find_instance(session, dag_id, run_id, task_id, map_index)
    return ti, find_try_log(session, ctx.log_folder, ti, try_number)


# -- actions on one instance --------------------------------------------------------------


def _checked(value: str | None) -> bool:
    return value not in (None, "", "0", "false")


@router.post("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/clear")
def clear_instance(
    request: Request,
    dag_id: str,
    run_id: str,
    task_id: str,
    session: DbSession,
    user: Operator,
    map_index: Annotated[int | None, Form()] = None,
    downstream: Annotated[str | None, Form()] = None,
    upstream: Annotated[str | None, Form()] = None,
    only_failed: Annotated[str | None, Form()] = None,
    confirmed: Annotated[str | None, Form()] = None,
    ids: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """Clear the instance (and its relatives as asked): first the list of what will be
    cleared with a Confirm button, then, confirmed, exactly those instances."""
    get_run(session, dag_id, run_id)
    ti = find_instance(session, dag_id, run_id, task_id, map_index)
    options = {"downstream": _checked(downstream), "upstream": _checked(upstream),
               "only_failed": _checked(only_failed)}  # fmt: skip
    try:
        plan = plan_clear(
            session, dag_id, [task_id], run_id=run_id, downstream=options["downstream"],
            upstream=options["upstream"], only_failed=options["only_failed"],
        )  # fmt: skip
    except ActionRefused as exc:
        raise ApiError(400, str(exc)) from None
    if ti.map_index >= 0:
        plan = narrow(plan, [task_id], [ti.map_index])
    back = instance_url(dag_id, run_id, task_id, map_index=_map_query(ti))
    if not _checked(confirmed):
        hidden = [(name, "1") for name, on in options.items() if on]
        if ti.map_index >= 0:
            hidden.append(("map_index", str(ti.map_index)))
        action = instance_url(dag_id, run_id, task_id, "/clear")
        return _confirm_clear(
            request, plan.chosen, plan.running, hidden, action, back, notes=plan.notes
        )
    return _apply(request, session, user, _only(plan, ids or []), back)


def _confirm_clear(
    request: Request,
    chosen: list[tuple[TaskInstance, DagRun]],
    running: list[tuple[TaskInstance, DagRun]],
    hidden: list[tuple[str, str]],
    action: str,
    back: str,
    *,
    notes: list[str] | None = None,
) -> Response:
    """The dry run: what a clear will reset (in other DAGs too, through ExternalTaskMarker
    tasks), and a form that confirms exactly that."""
    hidden = [*hidden, ("confirmed", "1"), *(("ids", str(ti.id)) for ti, _ in chosen)]
    return render(request, "ti_clear_confirm.html", {
        "nav": "browse", "chosen": chosen, "running": running, "hidden": hidden,
        "action": action, "back": back, "notes": notes or [],
    })  # fmt: skip


def _only(plan: ClearPlan, ids: Iterable[int]) -> ClearPlan:
    """The plan kept to the instances the confirmed dry run showed."""
    shown = set(ids)
    return replace(plan, chosen=[(ti, run) for ti, run in plan.chosen if ti.id in shown])


def _apply(
    request: Request, session: Session, user: CurrentUser, plan: ClearPlan, back: str
) -> Response:
    """Clear, say what changed, and go back."""
    result = apply_clear(session, user.actor(request), plan)
    requeued = f"; runs requeued: {', '.join(result.requeued_runs)}" if result.requeued_runs else ""
    flash(request, f"Cleared {len(result.cleared)} task instance(s){requeued}.", "success")
    return redirect(back)


@router.post("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/mark")
def mark_task_instance(
    request: Request,
    dag_id: str,
    run_id: str,
    task_id: str,
    session: DbSession,
    user: Operator,
    state: Annotated[str, Form()],
    map_index: Annotated[int | None, Form()] = None,
    confirmed: Annotated[str | None, Form()] = None,
) -> Response:
    """Mark the instance success or failed, after a confirmation page."""
    if state not in MARKS:
        raise ApiError(400, f"a task instance can be marked success or failed, not {state!r}")
    get_run(session, dag_id, run_id)
    ti = find_instance(session, dag_id, run_id, task_id, map_index)
    back = instance_url(dag_id, run_id, task_id, map_index=_map_query(ti))
    if not _checked(confirmed):
        action = instance_url(dag_id, run_id, task_id, "/mark")
        return render(request, "ti_mark_confirm.html", {"nav": "dags", "ti": ti, "state": state,
                      "action": action, "back": back})  # fmt: skip
    try:
        mark_instance(session, user.actor(request), ti, MARKS[state])
    except ActionRefused as exc:
        flash(request, str(exc), "error")
        return redirect(back)
    flash(request, f"Marked {task_id} as {state}.", "success")
    return redirect(back)


# -- the task instance browser --------------------------------------------------------------


def _day(value: str | None, field: str, *, end: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` filter as a UTC datetime (the day's end for ``end``)."""
    try:
        return parse_day(value, end=end)
    except ValueError as exc:
        raise ApiError(400, f"{field}: {exc}") from None


@router.get("/task-instances")
def browse_task_instances(
    request: Request,
    session: DbSession,
    user: Reader,
    dag_id: str | None = None,
    task_id: str | None = None,
    state: Annotated[list[str] | None, Query()] = None,
    start: str | None = None,
    end: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Task instances of every DAG, newest first, with filters, pages and bulk clear."""
    query = {"dag_id": dag_id or None, "task_id": task_id or None, "start": start or None,
             "end": end or None}  # fmt: skip
    error = ""
    rows: list[tuple[TaskInstance, DagRun]] = []
    total = 0
    try:
        filters = InstanceFilter(
            dag_ids=[dag_id] if dag_id else [], task_id=task_id or None,
            states=check_states([s for s in state or () if s]),
            logical_date_gte=_day(start, "run date from"),
            logical_date_lte=_day(end, "run date to", end=True),
        )  # fmt: skip
        rows, total = page_of_instances(session, filters, PAGE_SIZE, offset)
    except ApiError as exc:
        error = exc.detail
    return render(request, "ti_browse.html", {
        "nav": "browse", "rows": rows, "total": total, "offset": offset, "size": PAGE_SIZE,
        "query": query, "states": set(state or ()), "state_names": STATE_NAMES,
        "error": error,
    }, status=400 if error else 200)  # fmt: skip


@router.post("/task-instances/clear")
def bulk_clear(
    request: Request,
    session: DbSession,
    user: Operator,
    ids: Annotated[list[int] | None, Form()] = None,
    confirmed: Annotated[str | None, Form()] = None,
) -> Response:
    """Clear the selected instances: first the list of what will be cleared, then, once
    confirmed, those instances (running ones and ones with no state are left alone)."""
    if not ids:
        flash(request, "Select the task instances to clear first.", "error")
        return redirect("/task-instances")
    if len(ids) > MAX_BULK:
        raise ApiError(400, f"{len(ids)} task instances selected; clear at most {MAX_BULK} at once")
    found = instances_by_ids(session, ids)
    chosen = [(ti, run) for ti, run in found if ti.state not in (None, "running")]
    running = [(ti, run) for ti, run in found if ti.state == "running"]
    if not _checked(confirmed):
        return _confirm_clear(request, chosen, running, [], "/task-instances/clear",
                              "/task-instances")  # fmt: skip
    by_dag: dict[str, list[tuple[TaskInstance, DagRun]]] = {}
    for ti, run in chosen:
        by_dag.setdefault(ti.dag_id, []).append((ti, run))
    cleared, requeued = 0, []
    for dag_id, rows in by_dag.items():
        plan = ClearPlan(dag=load_stored_dag(session, dag_id), chosen=rows, running=[])
        result = apply_clear(session, user.actor(request), plan)
        cleared += len(result.cleared)
        requeued += result.requeued_runs
    runs = f"; runs requeued: {', '.join(requeued)}" if requeued else ""
    flash(request, f"Cleared {cleared} task instance(s){runs}.", "success")
    return redirect("/task-instances")


@router.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/clear", include_in_schema=False)
@router.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/mark", include_in_schema=False)
def back_to_instance(dag_id: str, run_id: str, task_id: str, user: Reader) -> Response:
    """A reload or Back on a confirmation page (reached by POST): the task instance."""
    return redirect(instance_url(dag_id, run_id, task_id))


@router.get("/task-instances/clear", include_in_schema=False)
def back_to_browse(user: Reader) -> Response:
    """A reload or Back on the bulk clear confirmation: the task instance list."""
    return redirect("/task-instances")
