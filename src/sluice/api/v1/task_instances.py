"""REST API: task instances (list with filters, get, tries), clearing them and setting
their state.

``~`` stands for "any" in the DAG id and run id of the list's path, as in Airflow:
``/dags/~/dagRuns/~/taskInstances`` lists instances of every run of every DAG.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from sluice.actions.clearing import ClearPlan, apply_clear, mark_instance, plan_clear
from sluice.actions.common import ActionRefused
from sluice.api.bodies import Body
from sluice.api.deps import Ctx, DbSession, Operator, Paging, Reader
from sluice.api.pagination import Page
from sluice.api.problems import ApiError
from sluice.core.states import TaskInstanceState
from sluice.store.run_queries import get_dag, get_run
from sluice.store.tables import DagRun, TaskInstance, TaskTry
from sluice.store.ti_listings import (
    NO_STATE,
    InstanceFilter,
    find_instance,
    instance_tries,
    page_of_instances,
)

router = APIRouter(tags=["TaskInstance"])

ANY = "~"
STATE_NAMES = (NO_STATE, *(state.value for state in TaskInstanceState))
MapIndex = Annotated[int | None, Query(ge=-1, description="Map index of a mapped task's instance.")]


class TaskInstanceOut(BaseModel):
    """A task instance."""

    dag_id: str
    dag_run_id: str
    task_id: str
    map_index: int
    state: str | None
    try_number: int
    max_tries: int
    logical_date: datetime
    queued_when: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    next_try_at: datetime | None = Field(
        description="When an up_for_retry or up_for_reschedule instance may run again."
    )
    hostname: str
    pid: int | None
    pool: str
    pool_slots: int
    priority_weight: int
    queue: str
    operator: str | None


class TaskInstanceDetail(TaskInstanceOut):
    """A task instance with its rendered template fields."""

    rendered_fields: dict[str, Any] | None


class TaskTryOut(BaseModel):
    """One try of a task instance."""

    try_number: int
    state: str | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    hostname: str
    pid: int | None
    exit_code: int | None
    error: str | None


class ClearBody(Body):
    """What to clear. Without ``dag_run_id``, start_date and end_date, every run."""

    task_ids: list[str] | None = Field(
        default=None, description="Tasks to clear (all tasks when left out)."
    )
    map_indexes: list[int] | None = Field(
        default=None,
        description="Only these map indexes of the tasks in task_ids (their relatives whole).",
    )
    dag_run_id: str | None = Field(default=None, description="Only in this run.")
    start_date: datetime | None = Field(default=None, description="Runs from this logical date.")
    end_date: datetime | None = Field(default=None, description="Runs up to this logical date.")
    include_downstream: bool = False
    include_upstream: bool = False
    only_failed: bool = Field(default=False, description="Only failed and upstream_failed.")
    dry_run: bool = Field(default=True, description="Only list what would be cleared.")


class ClearOut(BaseModel):
    """The instances a clear reset (or, in a dry run, would reset)."""

    dry_run: bool
    task_instances: list[TaskInstanceOut]
    running_left_alone: list[TaskInstanceOut] = Field(
        description="Running instances a clear does not touch."
    )
    requeued_runs: list[str] = Field(description="Finished runs that went back to queued.")
    notes: list[str] = Field(
        default_factory=list,
        description="ExternalTaskMarker tasks that were not followed into another DAG, and why.",
    )


class NewState(Body):
    """The state to mark a task instance with."""

    new_state: Literal["success", "failed", "skipped"]


def instance_out(ti: TaskInstance, run: DagRun) -> TaskInstanceOut:
    """The API's view of an instance."""
    return TaskInstanceOut(**_fields(ti, run))


def _fields(ti: TaskInstance, run: DagRun) -> dict[str, Any]:
    return {
        "dag_id": ti.dag_id, "dag_run_id": ti.run_id, "task_id": ti.task_id,
        "map_index": ti.map_index, "state": ti.state, "try_number": ti.try_number,
        "max_tries": ti.max_tries, "logical_date": run.logical_date,
        "queued_when": ti.queued_dttm, "start_date": ti.start_date, "end_date": ti.end_date,
        "duration": ti.duration, "next_try_at": ti.next_try_at, "hostname": ti.hostname,
        "pid": ti.pid, "pool": ti.pool, "pool_slots": ti.pool_slots,
        "priority_weight": ti.priority_weight, "queue": ti.queue, "operator": ti.operator,
    }  # fmt: skip


def rendered_fields(ti: TaskInstance) -> dict[str, Any] | None:
    """The instance's rendered template fields (None before a try rendered them)."""
    if not ti.rendered_fields:
        return None
    try:
        value = json.loads(ti.rendered_fields)
    except ValueError:
        return {"(unreadable)": ti.rendered_fields}
    return value if isinstance(value, dict) else {"value": value}


def lookup(
    session: Session, dag_id: str, run_id: str, task_id: str, map_index: int | None
) -> tuple[TaskInstance, DagRun]:
    """The instance and its run; 404 naming the DAG, run, task or map index not found."""
    run = get_run(session, dag_id, run_id)
    return find_instance(session, dag_id, run_id, task_id, map_index), run


def check_states(states: list[str] | None) -> list[str]:
    """The state filter, refused (400) when it names an unknown state."""
    unknown = [state for state in states or () if state not in STATE_NAMES]
    if unknown:
        raise ApiError(
            400,
            f"unknown state {', '.join(map(repr, unknown))}; states are {', '.join(STATE_NAMES)}",
        )
    return list(states or ())


@router.get(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances",
    response_model=Page[TaskInstanceOut],
)
def list_task_instances(
    dag_id: str,
    dag_run_id: str,
    session: DbSession,
    page: Paging,
    user: Reader,
    state: Annotated[
        list[str] | None, Query(description=f"Repeatable; one of {', '.join(STATE_NAMES)}.")
    ] = None,
    task_id: str | None = None,
    dag_ids: Annotated[
        list[str] | None, Query(description="Repeatable; only with dag_id `~`.")
    ] = None,
    logical_date_gte: datetime | None = None,
    logical_date_lte: datetime | None = None,
    start_date_gte: datetime | None = None,
    start_date_lte: datetime | None = None,
) -> Page[TaskInstanceOut]:
    """Task instances of a run, or, with `~` as DAG id or run id, of every run or DAG.

    One run's instances come by task id and map index; wider lists newest first.
    """
    if dag_id != ANY:
        if dag_ids:
            raise ApiError(400, "dag_ids filters the list of every DAG only: use dag_id ~")
        if dag_run_id != ANY:
            get_run(session, dag_id, dag_run_id)
        else:
            get_dag(session, dag_id)
    elif dag_run_id != ANY and not dag_ids:
        raise ApiError(400, f"run '{dag_run_id}' needs its DAG: give the DAG id instead of ~")
    filters = InstanceFilter(
        dag_ids=[dag_id] if dag_id != ANY else list(dag_ids or ()),
        run_id=None if dag_run_id == ANY else dag_run_id,
        task_id=task_id,
        states=check_states(state),
        logical_date_gte=logical_date_gte,
        logical_date_lte=logical_date_lte,
        start_date_gte=start_date_gte,
        start_date_lte=start_date_lte,
    )
    rows, total = page_of_instances(session, filters, page.limit, page.offset)
    items = [instance_out(ti, run) for ti, run in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}",
    response_model=TaskInstanceDetail,
)
def get_task_instance(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    session: DbSession,
    ctx: Ctx,
    user: Reader,
    map_index: MapIndex = None,
) -> TaskInstanceDetail:
    """One task instance; a mapped task's instances need `map_index`."""
    ti, run = lookup(session, dag_id, dag_run_id, task_id, map_index)
    rendered = ctx.secrets.redact(rendered_fields(ti))
    return TaskInstanceDetail(**_fields(ti, run), rendered_fields=rendered)


def try_out(row: TaskTry, mask: Callable[[str], str]) -> TaskTryOut:
    """The API's view of a try, its error passed through ``mask``."""
    return TaskTryOut(
        try_number=row.try_number, state=row.state, start_date=row.start_date,
        end_date=row.end_date, duration=row.duration, hostname=row.hostname, pid=row.pid,
        exit_code=row.exit_code, error=mask(row.error) if row.error else row.error,
    )  # fmt: skip


@router.get(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/tries",
    response_model=Page[TaskTryOut],
)
def list_tries(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    session: DbSession,
    ctx: Ctx,
    page: Paging,
    user: Reader,
    map_index: MapIndex = None,
) -> Page[TaskTryOut]:
    """Every try of a task instance, first try first."""
    ti, _ = lookup(session, dag_id, dag_run_id, task_id, map_index)
    tries = instance_tries(session, ti)  # A handful: the task's retries bound them.
    shown = tries[page.offset : page.offset + page.limit]
    return Page(
        items=[try_out(row, ctx.secrets.mask_text) for row in shown], total=len(tries),
        limit=page.limit,
        offset=page.offset,
    )  # fmt: skip


def narrow(plan: ClearPlan, task_ids: list[str] | None, map_indexes: list[int] | None) -> ClearPlan:
    """The plan with the instances of ``task_ids`` kept to ``map_indexes`` (when given)."""
    if map_indexes is None or not task_ids:
        return plan
    named, indexes = set(task_ids), set(map_indexes)

    def keep(ti: TaskInstance) -> bool:
        # Instances of other DAGs (reached through ExternalTaskMarker) are not narrowed.
        other_dag = ti.dag_id != plan.dag.dag_id
        return other_dag or ti.task_id not in named or ti.map_index in indexes

    return replace(
        plan,
        chosen=[(ti, run) for ti, run in plan.chosen if keep(ti)],
        running=[(ti, run) for ti, run in plan.running if keep(ti)],
    )


@router.post("/dags/{dag_id}/clearTaskInstances", response_model=ClearOut)
def clear_task_instances(
    dag_id: str, body: ClearBody, request: Request, session: DbSession, user: Operator
) -> ClearOut:
    """Clear task instances so that the scheduler runs them again (a dry run by default:
    it lists what would be cleared and changes nothing).

    Finished runs of cleared instances go back to queued; running instances are left alone.
    """
    if body.dag_run_id is not None:
        get_run(session, dag_id, body.dag_run_id)
    try:
        plan = plan_clear(
            session, dag_id, body.task_ids, downstream=body.include_downstream,
            upstream=body.include_upstream, only_failed=body.only_failed,
            start=body.start_date, end=body.end_date, run_id=body.dag_run_id,
        )  # fmt: skip
    except ActionRefused as exc:
        raise ApiError(400, str(exc)) from None
    plan = narrow(plan, body.task_ids, body.map_indexes)
    chosen = [instance_out(ti, run) for ti, run in plan.chosen]
    running = [instance_out(ti, run) for ti, run in plan.running]
    if body.dry_run:
        return ClearOut(dry_run=True, task_instances=chosen, running_left_alone=running,
                        requeued_runs=[], notes=plan.notes)  # fmt: skip
    result = apply_clear(session, user.actor(request), plan)
    cleared = set(result.cleared)
    return ClearOut(
        dry_run=False,
        task_instances=[instance_out(ti, run) for ti, run in plan.chosen if ti.id in cleared],
        running_left_alone=running,
        requeued_runs=result.requeued_runs,
        notes=plan.notes,
    )


@router.patch(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}",
    response_model=TaskInstanceOut,
)
def set_task_instance_state(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    body: NewState,
    request: Request,
    session: DbSession,
    user: Operator,
    map_index: MapIndex = None,
) -> TaskInstanceOut:
    """Mark a task instance success, failed or skipped (409 when it already is)."""
    ti, run = lookup(session, dag_id, dag_run_id, task_id, map_index)
    mark_instance(session, user.actor(request), ti, TaskInstanceState(body.new_state))
    session.refresh(ti)
    return instance_out(ti, run)
