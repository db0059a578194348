"""REST API: pools (list, get, create, update, delete), with the slots each one uses.

Anyone who may read may see pools; changing them needs EDIT_GLOBAL. default_pool cannot
be deleted, nor a pool with queued or running task instances.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from sluice.api.bodies import Body
from sluice.api.deps import DbSession, Editor, Paging, Reader
from sluice.api.pagination import Page
from sluice.api.problems import ApiError
from sluice.store.pools import PoolUsage, check_name, delete_pool, get_pool, list_pools, set_pool

router = APIRouter(tags=["Pool"])


class PoolOut(BaseModel):
    """A pool and the slots its task instances take."""

    name: str
    slots: int
    description: str | None = None
    occupied_slots: int = Field(description="Queued and running slots.")
    running_slots: int
    queued_slots: int
    scheduled_slots: int = Field(description="Slots wanted by instances waiting for one.")
    open_slots: int = Field(description="Free slots (negative when the pool was shrunk).")


class PoolIn(Body):
    """A new pool."""

    name: str
    slots: int
    description: str | None = None


class PoolPatch(Body):
    """The fields of a pool to change; the name, if given, must be the path's."""

    name: str | None = None
    slots: int | None = None
    description: str | None = Field(None, description="An empty string removes it.")


def out(usage: PoolUsage) -> PoolOut:
    """A pool as the API returns it."""
    return PoolOut(
        name=usage.name, slots=usage.slots, description=usage.description,
        occupied_slots=usage.occupied, running_slots=usage.running,
        queued_slots=usage.queued, scheduled_slots=usage.scheduled, open_slots=usage.open,
    )  # fmt: skip


def _require(session: DbSession, name: str) -> PoolUsage:
    usage = get_pool(session, name)
    if usage is None:
        raise ApiError(404, f"no pool '{name}'")
    return usage


@router.get("/pools", response_model=Page[PoolOut])
def list_all(session: DbSession, user: Reader, page: Paging) -> Page[PoolOut]:
    """List pools by name, with their running, queued, scheduled and open slots."""
    pools = list_pools(session)  # a handful of rows: one grouped query gives all usage
    items = [out(p) for p in pools[page.offset : page.offset + page.limit]]
    return Page(items=items, total=len(pools), limit=page.limit, offset=page.offset)


@router.get("/pools/{name}", response_model=PoolOut)
def get_one(session: DbSession, user: Reader, name: str) -> PoolOut:
    """Get one pool with its usage."""
    return out(_require(session, name))


@router.post("/pools", response_model=PoolOut)
def create(request: Request, session: DbSession, user: Editor, body: PoolIn) -> PoolOut:
    """Create a pool (409 if the name exists)."""
    check_name(body.name)
    if get_pool(session, body.name) is not None:
        raise ApiError(409, f"pool '{body.name}' already exists; change it with PATCH")
    set_pool(session, body.name, body.slots, body.description)
    user.actor(request).record(
        session, "pools_create", extra={"pool": body.name, "slots": body.slots}
    )
    return out(_require(session, body.name))


@router.patch("/pools/{name}", response_model=PoolOut)
def update(
    request: Request, session: DbSession, user: Editor, name: str, body: PoolPatch
) -> PoolOut:
    """Change a pool's slots and/or description."""
    if body.name is not None and body.name != name:
        raise ApiError(400, f"the body's name '{body.name}' is not the path's name '{name}'")
    current = _require(session, name)
    slots = current.slots if body.slots is None else body.slots
    set_pool(session, name, slots, body.description)
    user.actor(request).record(session, "pools_update", extra={"pool": name, "slots": slots})
    return out(_require(session, name))


@router.delete("/pools/{name}", status_code=204, response_class=Response)
def delete(request: Request, session: DbSession, user: Editor, name: str) -> Response:
    """Delete a pool; refused for default_pool and for a pool in use."""
    _require(session, name)
    delete_pool(session, name)
    user.actor(request).record(session, "pools_delete", extra={"pool": name})
    return Response(status_code=204)
