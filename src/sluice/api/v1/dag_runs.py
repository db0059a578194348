"""``/dags/{dag_id}/dagRuns``: list, read, trigger, delete and clear DAG runs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from sluice.actions.clearing import apply_clear, plan_clear
from sluice.actions.common import ActionRefused
from sluice.actions.runs import check_run_id, delete_run, trigger_run
from sluice.api.bodies import Body
from sluice.api.deps import DbSession, Operator, Paging, Reader
from sluice.api.pagination import Page, fetch
from sluice.api.problems import ApiError
from sluice.core.states import DagRunState
from sluice.store.listings import RunFilter, run_query
from sluice.store.run_admin import RunBusy
from sluice.store.run_queries import get_dag, get_run
from sluice.store.tables import DagRun, TaskInstance

router = APIRouter(tags=["DAGRun"])

ALL_DAGS = "~"
"""The DAG id that means every DAG, as in Airflow's API."""

RunType = Literal["scheduled", "manual", "backfill"]


def run_conf(run: DagRun) -> dict[str, Any]:
    """A run's conf as a dict (a stored conf that is not a JSON object gives {})."""
    try:
        conf = json.loads(run.conf or "{}")
    except ValueError:
        return {}
    return conf if isinstance(conf, dict) else {}


def run_duration(run: DagRun) -> float | None:
    """Seconds from the run's start to its end, when it has both."""
    if run.start_date is None or run.end_date is None:
        return None
    return (run.end_date - run.start_date).total_seconds()


class DagRunModel(BaseModel):
    """A DAG run."""

    dag_id: str
    dag_run_id: str
    logical_date: datetime
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_after: datetime | None
    run_type: str
    """scheduled, manual or backfill."""
    state: str
    conf: dict[str, Any]
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    """Seconds from start to end."""
    backfill_id: int | None
    clear_number: int
    """How many times the run was cleared."""

    @classmethod
    def of(cls, run: DagRun) -> DagRunModel:
        """The model of a dag_run row."""
        return cls(
            dag_id=run.dag_id,
            dag_run_id=run.run_id,
            logical_date=run.logical_date,
            data_interval_start=run.data_interval_start,
            data_interval_end=run.data_interval_end,
            run_after=run.run_after,
            run_type=run.run_type,
            state=run.state,
            conf=run_conf(run),
            queued_at=run.queued_at,
            start_date=run.start_date,
            end_date=run.end_date,
            duration=run_duration(run),
            backfill_id=run.backfill_id,
            clear_number=run.clear_number or 0,
        )


class TriggerBody(Body):
    """A manual run to create."""

    conf: dict[str, Any] | None = Field(
        default=None, description="The run's conf; checked against the DAG's params."
    )
    logical_date: AwareDatetime | None = Field(
        default=None, description="With a timezone offset; default now."
    )
    dag_run_id: str | None = Field(default=None, description="Default: manual__<logical date>.")
    note: str | None = Field(default=None, description="Kept in the audit log with the trigger.")


class ClearRunBody(Body):
    """Which task instances of the run to clear."""

    dry_run: bool = Field(default=True, description="Only list what would be cleared.")
    only_failed: bool = Field(default=False, description="Only failed and upstream_failed ones.")


class ClearedInstance(BaseModel):
    """A task instance a clear resets (its state is the one before the clear)."""

    task_id: str
    map_index: int
    state: str | None
    try_number: int

    @classmethod
    def of(cls, ti: TaskInstance) -> ClearedInstance:
        """The model of a task_instance row."""
        return cls(
            task_id=ti.task_id, map_index=ti.map_index, state=ti.state, try_number=ti.try_number
        )


class ClearRunResult(BaseModel):
    """What a clear reset, or would reset on a dry run."""

    dag_id: str
    dag_run_id: str
    dry_run: bool
    task_instances: list[ClearedInstance]
    total: int
    left_running: list[ClearedInstance]
    """Running instances a clear leaves alone."""


def _run_filter(
    dag_id: str,
    state: list[DagRunState] | None,
    run_type: list[RunType] | None,
    logical_date_gte: datetime | None,
    logical_date_lte: datetime | None,
) -> RunFilter:
    if logical_date_gte and logical_date_lte and logical_date_lte < logical_date_gte:
        raise ApiError(
            400,
            f"logical_date_lte {logical_date_lte.isoformat()} is before logical_date_gte"
            f" {logical_date_gte.isoformat()}",
        )
    return RunFilter(
        dag_id=None if dag_id == ALL_DAGS else dag_id,
        states=[s.value for s in state or ()],
        run_types=list(run_type or ()),
        logical_date_gte=logical_date_gte,
        logical_date_lte=logical_date_lte,
    )


@router.get("/dags/{dag_id}/dagRuns", response_model=Page[DagRunModel])
def list_dag_runs(
    dag_id: str,
    session: DbSession,
    user: Reader,
    page: Paging,
    state: Annotated[list[DagRunState] | None, Query(description="Runs in any of these.")] = None,
    run_type: Annotated[list[RunType] | None, Query(description="Runs of any of these.")] = None,
    logical_date_gte: Annotated[AwareDatetime | None, Query()] = None,
    logical_date_lte: Annotated[AwareDatetime | None, Query()] = None,
) -> Page[DagRunModel]:
    """List a DAG's runs (``~`` for every DAG), newest logical date first."""
    if dag_id != ALL_DAGS:
        get_dag(session, dag_id)
    wanted = _run_filter(dag_id, state, run_type, logical_date_gte, logical_date_lte)
    rows, total = fetch(session, run_query(wanted), page)
    return Page(
        items=[DagRunModel.of(run) for (run,) in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/dags/{dag_id}/dagRuns/{dag_run_id}", response_model=DagRunModel)
def get_dag_run(dag_id: str, dag_run_id: str, session: DbSession, user: Reader) -> DagRunModel:
    """One DAG run."""
    return DagRunModel.of(get_run(session, dag_id, dag_run_id))


@router.post(
    "/dags/{dag_id}/dagRuns",
    response_model=DagRunModel,
    responses={400: {"description": "The conf does not fit the DAG's params"},
               409: {"description": "The DAG has a run with this id or logical date"}},
)  # fmt: skip
def trigger_dag_run(
    dag_id: str, body: TriggerBody, request: Request, session: DbSession, user: Operator
) -> DagRunModel:
    """Trigger a manual run with a conf; the scheduler then runs it.

    The conf is checked against the DAG's params (400 with the param's error); a run id
    or logical date the DAG already has a run for is refused (409).
    """
    if body.dag_run_id is not None:
        try:
            check_run_id(body.dag_run_id)
        except ActionRefused as exc:
            raise ApiError(400, str(exc)) from None
    actor = user.actor(request)
    run = trigger_run(
        session,
        actor,
        dag_id,
        conf=body.conf,
        logical_date=body.logical_date,
        run_id=body.dag_run_id,
    )
    if body.note:
        actor.record(session, "dag_runs_note", dag_id=dag_id, run_id=run.run_id,
                     extra={"note": body.note})  # fmt: skip
    return DagRunModel.of(run)


@router.delete("/dags/{dag_id}/dagRuns/{dag_run_id}", status_code=204, response_class=Response)
def remove_dag_run(
    dag_id: str, dag_run_id: str, request: Request, session: DbSession, user: Operator
) -> Response:
    """Delete a run with its task instances, tries and XComs (409 while a task runs)."""
    try:
        delete_run(session, user.actor(request), dag_id, dag_run_id)
    except RunBusy as exc:
        raise ApiError(409, str(exc)) from None
    return Response(status_code=204)


@router.post("/dags/{dag_id}/dagRuns/{dag_run_id}/clear", response_model=ClearRunResult)
def clear_dag_run(
    dag_id: str,
    dag_run_id: str,
    body: ClearRunBody,
    request: Request,
    session: DbSession,
    user: Operator,
) -> ClearRunResult:
    """Clear a run's task instances so that the scheduler runs them again.

    ``dry_run`` (the default) only lists them. Running instances are left alone; a
    finished run goes back to queued.
    """
    get_run(session, dag_id, dag_run_id)
    plan = plan_clear(session, dag_id, only_failed=body.only_failed, run_id=dag_run_id)
    # The states before the clear: what the user decided on.
    chosen = [ClearedInstance.of(ti) for ti, _ in plan.chosen]
    running = [ClearedInstance.of(ti) for ti, _ in plan.running]
    if not body.dry_run:
        ids = {ti.id: model for (ti, _), model in zip(plan.chosen, chosen, strict=True)}
        result = apply_clear(session, user.actor(request), plan)
        chosen = [ids[pk] for pk in result.cleared if pk in ids]
    return ClearRunResult(
        dag_id=dag_id,
        dag_run_id=dag_run_id,
        dry_run=body.dry_run,
        task_instances=chosen,
        total=len(chosen),
        left_running=running,
    )
