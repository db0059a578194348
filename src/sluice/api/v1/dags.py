"""``/dags``: list DAGs, read one with its settings, pause/unpause, delete, read its source."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from sluice.actions.common import load_stored_dag
from sluice.actions.dags import CatchupNeedsConfirmation, delete_dag, set_paused, unpause
from sluice.api.bodies import Body
from sluice.api.dag_files import MAX_SOURCE_BYTES, read_dag_source
from sluice.api.deps import Ctx, DbSession, Operator, Paging, Reader
from sluice.api.pagination import Page, fetch
from sluice.api.problems import ApiError, problem
from sluice.core.errors import DagNotFound, StoreError
from sluice.core.states import DagRunState
from sluice.parsing.serialized import SerializedDag
from sluice.store.listings import DagFilter, dag_query, split_owners, split_tags
from sluice.store.run_queries import get_dag
from sluice.store.tables import Dag

router = APIRouter(tags=["DAG"])


class DagTag(BaseModel):
    """A tag of a DAG (an object, as Airflow's API has it)."""

    name: str


class DagModel(BaseModel):
    """A DAG as the DAG list shows it: its dag row."""

    dag_id: str
    description: str | None
    is_paused: bool
    is_active: bool
    """False when its file, or the DAG in it, is gone."""
    fileloc: str
    owners: list[str]
    tags: list[DagTag]
    schedule: str | None
    """The schedule as written: a cron expression, a preset, a timedelta..."""
    timetable_description: str | None
    """The schedule in words."""
    max_active_runs: int
    max_active_tasks: int
    has_import_errors: bool
    next_dagrun: datetime | None
    """Logical date of the next scheduled run."""
    next_dagrun_data_interval_start: datetime | None
    next_dagrun_data_interval_end: datetime | None
    next_dagrun_create_after: datetime | None
    last_parsed_time: datetime | None

    @classmethod
    def of(cls, dag: Dag) -> DagModel:
        """The model of a dag row."""
        return cls(
            dag_id=dag.dag_id,
            description=dag.description,
            is_paused=dag.is_paused,
            is_active=dag.is_active,
            fileloc=dag.fileloc,
            owners=split_owners(dag.owners or ""),
            tags=[DagTag(name=tag) for tag in split_tags(dag.tags)],
            schedule=None if dag.schedule in (None, "None") else dag.schedule,
            timetable_description=dag.timetable_description,
            max_active_runs=dag.max_active_runs,
            max_active_tasks=dag.max_active_tasks,
            has_import_errors=dag.has_import_errors,
            next_dagrun=dag.next_dagrun,
            next_dagrun_data_interval_start=dag.next_dagrun_data_interval_start,
            next_dagrun_data_interval_end=dag.next_dagrun_data_interval_end,
            next_dagrun_create_after=dag.next_dagrun_create_after,
            last_parsed_time=dag.last_parsed_at,
        )


class DagDetailModel(DagModel):
    """A DAG with every setting of its serialized form; those are null when the DAG was
    never serialized (its file failed to import)."""

    dag_display_name: str | None = None
    doc_md: str | None = None
    timetable: str | None = None
    """The timetable's class name."""
    timezone: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    catchup: bool | None = None
    dagrun_timeout: float | None = None
    """Seconds."""
    params: dict[str, Any] | None = None
    """Param name to {default, has_default, description, schema}."""
    default_args: dict[str, Any] | None = None
    owner_links: dict[str, str] | None = None
    template_searchpath: list[str] | None = None
    render_template_as_native_obj: bool | None = None
    is_paused_upon_creation: bool | None = None
    task_ids: list[str] | None = None

    @classmethod
    def detail(cls, dag: Dag, serialized: SerializedDag | None) -> DagDetailModel:
        """The row's model with the serialized DAG's settings."""
        base = DagModel.of(dag).model_dump()
        if serialized is None:
            return cls(**base)
        return cls(
            **base,
            dag_display_name=serialized.dag_display_name,
            doc_md=serialized.doc_md,
            timetable=type(serialized.timetable).__name__,
            timezone=serialized.timezone,
            start_date=serialized.start_date,
            end_date=serialized.end_date,
            catchup=serialized.catchup,
            dagrun_timeout=serialized.dagrun_timeout,
            params=serialized.params,
            default_args=serialized.default_args,
            owner_links=serialized.owner_links,
            template_searchpath=list(serialized.template_searchpath),
            render_template_as_native_obj=serialized.render_template_as_native_obj,
            is_paused_upon_creation=serialized.is_paused_upon_creation,
            task_ids=serialized.task_ids,
        )


class DagPatch(Body):
    """What PATCH /dags/{dag_id} may change."""

    model_config = ConfigDict(extra="forbid")
    is_paused: bool


class DagSource(BaseModel):
    """A DAG's file, as the DAG processor parsed it."""

    dag_id: str
    fileloc: str
    content: str


@router.get("/dags", response_model=Page[DagModel])
def list_dags(
    session: DbSession,
    user: Reader,
    page: Paging,
    dag_id_pattern: Annotated[
        str | None, Query(description="A part of the DAG id (any case).")
    ] = None,
    tags: Annotated[list[str] | None, Query(description="DAGs with any of these tags.")] = None,
    owners: Annotated[list[str] | None, Query(description="DAGs with any of these owners.")] = None,
    paused: Annotated[bool | None, Query(description="Only paused (or unpaused) DAGs.")] = None,
    last_dag_run_state: Annotated[
        DagRunState | None, Query(description="The state of the DAG's latest run.")
    ] = None,
    only_active: Annotated[
        bool, Query(description="Leave out DAGs whose file or definition is gone.")
    ] = True,
) -> Page[DagModel]:
    """List DAGs by id, with filters."""
    wanted = DagFilter(
        search=dag_id_pattern,
        tags=tags or (),
        owners=owners or (),
        paused=paused,
        last_run_state=last_dag_run_state.value if last_dag_run_state else None,
        include_inactive=not only_active,
    )
    rows, total = fetch(session, dag_query(wanted), page)
    return Page(
        items=[DagModel.of(dag) for (dag,) in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


def stored_dag_or_none(session: DbSession, dag_id: str) -> SerializedDag | None:
    """The DAG's serialized form; None when it has none (its file failed to import)."""
    try:
        return load_stored_dag(session, dag_id)
    except DagNotFound:
        return None


@router.get("/dags/{dag_id}", response_model=DagDetailModel)
def get_dag_detail(dag_id: str, session: DbSession, user: Reader) -> DagDetailModel:
    """One DAG with its schedule, params, default_args and every other setting."""
    dag = get_dag(session, dag_id)
    return DagDetailModel.detail(dag, stored_dag_or_none(session, dag_id))


def catchup_threshold(ctx: Ctx) -> int:
    """[scheduler] catchup_confirm_threshold: more catchup runs than this need a confirm."""
    return ctx.settings.get_int("scheduler", "catchup_confirm_threshold")


@router.patch(
    "/dags/{dag_id}",
    response_model=DagModel,
    responses={409: {"description": "Unpausing would start more catchup runs than allowed"}},
)
def patch_dag(
    dag_id: str,
    body: DagPatch,
    request: Request,
    session: DbSession,
    ctx: Ctx,
    user: Operator,
    confirm: Annotated[
        bool, Query(description="Unpause even when it starts many catchup runs.")
    ] = False,
) -> Response | DagModel:
    """Pause or unpause a DAG.

    Unpausing a catchup DAG that would create more runs at once than [scheduler]
    catchup_confirm_threshold is refused with 409 (saying how many runs and which
    dates) unless ``confirm=true``.
    """
    actor = user.actor(request)
    if body.is_paused:
        set_paused(session, actor, dag_id, True)
    else:
        try:
            unpause(session, actor, dag_id, threshold=catchup_threshold(ctx), confirmed=confirm)
        except CatchupNeedsConfirmation as exc:
            return problem(
                409,
                f"{exc}; send the request again with ?confirm=true to unpause it anyway",
                title="Catchup needs confirmation",
                catchup_runs=exc.count,
                catchup_summary=exc.summary,
            )
    return DagModel.of(get_dag(session, dag_id))


@router.delete("/dags/{dag_id}", status_code=204, response_class=Response)
def remove_dag(dag_id: str, request: Request, session: DbSession, user: Operator) -> Response:
    """Delete a DAG with its runs and history (the audit log stays).

    While its file is in the DAGs folder, the DAG processor adds the DAG back, with no
    history, at its next parse. Refused (409) while one of its tasks runs.
    """
    try:
        delete_dag(session, user.actor(request), dag_id)
    except StoreError as exc:
        raise ApiError(409, str(exc)) from None
    return Response(status_code=204)


@router.get("/dags/{dag_id}/source", response_model=DagSource)
def get_dag_source(dag_id: str, session: DbSession, user: Reader) -> DagSource:
    """The source of the DAG's file, as the DAG processor parsed it (404 when the file is
    gone since)."""
    dag = get_dag(session, dag_id)
    source = read_dag_source(dag_id, dag.fileloc)
    content = source.text
    if source.cut:
        content += f"\n# ... cut: the file is larger than {MAX_SOURCE_BYTES} bytes\n"
    return DagSource(dag_id=dag_id, fileloc=dag.fileloc, content=content)
