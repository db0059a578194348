"""``/health`` and ``/version``: no login needed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from sluice import __version__
from sluice.api.context import context
from sluice.store.jobs import DAG_PROCESSOR, SCHEDULER, latest_heartbeat

router = APIRouter(tags=["Monitoring"])
COMPONENTS = (SCHEDULER, DAG_PROCESSOR)


class ComponentHealth(BaseModel):
    status: Literal["healthy", "unhealthy"]
    latest_heartbeat: datetime | None = None
    detail: str | None = None


class Health(BaseModel):
    metadatabase: ComponentHealth
    scheduler: ComponentHealth
    dag_processor: ComponentHealth


class Version(BaseModel):
    version: str


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(request: Request) -> JSONResponse:
    """The database and the latest heartbeats of the scheduler and the DAG processor.

    Answers 503 when the database cannot be reached; a scheduler whose heartbeat is older
    than [scheduler] job_heartbeat_timeout is unhealthy.
    """
    ctx = context(request)
    timeout = ctx.settings.get_float("scheduler", "job_heartbeat_timeout")
    try:
        with ctx.store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            with ctx.store.sessions(bind=connection) as session:
                beats = {kind: latest_heartbeat(session, kind) for kind in COMPONENTS}
    except SQLAlchemyError as exc:
        down = ComponentHealth(
            status="unhealthy", detail=f"database unreachable: {type(exc).__name__}"
        )
        body = Health(metadatabase=down, scheduler=down, dag_processor=down)
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    now = datetime.now(UTC)

    def component(beat: datetime | None) -> ComponentHealth:
        if beat is None:
            return ComponentHealth(status="unhealthy", detail="no heartbeat yet")
        alive = (now - beat).total_seconds() <= timeout
        return ComponentHealth(status="healthy" if alive else "unhealthy", latest_heartbeat=beat)

    body = Health(
        metadatabase=ComponentHealth(status="healthy"),
        scheduler=component(beats[SCHEDULER]),
        dag_processor=component(beats[DAG_PROCESSOR]),
    )
    return JSONResponse(body.model_dump(mode="json"))


@router.get("/version", response_model=Version)
def version() -> Version:
    """Sluice's version."""
    return Version(version=__version__)
