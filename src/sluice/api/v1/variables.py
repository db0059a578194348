"""REST API: variables (list, get, create, update, delete, import, export).

Variables may hold secrets, so even reading them needs the EDIT_GLOBAL permission (Admin
and Op). Lists mask the values of secret-looking keys; getting one variable, and the
export, give the real value.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Body as BodyParam
from fastapi.responses import Response
from pydantic import BaseModel, Field

from sluice.api.bodies import Body
from sluice.api.deps import DbSession, Editor, Paging
from sluice.api.pagination import Page
from sluice.api.problems import ApiError
from sluice.core.secrets_names import MASK, is_sensitive_key
from sluice.store.variables import (
    OnExisting,
    VariableEntry,
    delete_variable,
    export_variables,
    get_variable,
    import_variables,
    list_variables,
    set_variable,
)

router = APIRouter(tags=["Variable"])


class VariableOut(BaseModel):
    """A variable."""

    key: str
    value: str
    description: str | None = None


class VariableIn(Body):
    """A new variable."""

    key: str
    value: str
    description: str | None = None


class VariablePatch(Body):
    """The fields of a variable to change; the key, if given, must be the path's."""

    key: str | None = None
    value: str | None = None
    description: str | None = Field(None, description="An empty string removes it.")


class ImportOut(BaseModel):
    """What an import did."""

    created: list[str]
    updated: list[str]
    skipped: list[str]


def _out(entry: VariableEntry, *, masked: bool = False) -> VariableOut:
    value = MASK if masked and is_sensitive_key(entry.key) else entry.value
    return VariableOut(key=entry.key, value=value, description=entry.description)


def _require(session: DbSession, key: str) -> VariableEntry:
    entry = get_variable(session, key)
    if entry is None:
        raise ApiError(404, f"no variable '{key}'")
    return entry


@router.get("/variables", response_model=Page[VariableOut])
def list_all(
    session: DbSession,
    user: Editor,
    page: Paging,
    search: Annotated[str | None, Query(description="Part of the key.")] = None,
) -> Page[VariableOut]:
    """List variables by key; values of secret-looking keys are shown as ***."""
    entries, total = list_variables(session, search=search, limit=page.limit, offset=page.offset)
    items = [_out(entry, masked=True) for entry in entries]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/variables/export", response_model=dict[str, Any])
def export(request: Request, session: DbSession, user: Editor) -> dict[str, Any]:
    """Every variable with its real value, in the format `POST /variables/import` takes."""
    return export_variables(session)


@router.post("/variables/import", response_model=ImportOut)
def import_json(
    request: Request,
    session: DbSession,
    user: Editor,
    data: Annotated[
        Any, BodyParam(description='{"key": value or {"value": ..., "description": ...}}')
    ],
    on_existing: Annotated[
        OnExisting, Query(description="What to do with keys that exist already.")
    ] = OnExisting.OVERWRITE,
) -> ImportOut:
    """Import a JSON object of variables: all of them, or none when one is wrong.

    Values that are not strings are stored as their JSON text, as Airflow does.
    """
    result = import_variables(session, data, on_existing)
    user.actor(request).record(
        session,
        "variables_import",
        extra={"created": len(result.created), "updated": len(result.updated),
               "skipped": len(result.skipped)},
    )  # fmt: skip
    return ImportOut(created=result.created, updated=result.updated, skipped=result.skipped)


@router.get("/variables/{key:path}", response_model=VariableOut)
def get_one(session: DbSession, user: Editor, key: str) -> VariableOut:
    """Get one variable with its real value."""
    return _out(_require(session, key))


@router.post("/variables", response_model=VariableOut)
def create(request: Request, session: DbSession, user: Editor, body: VariableIn) -> VariableOut:
    """Create a variable (409 if the key exists: change it with PATCH)."""
    if get_variable(session, body.key) is not None:
        raise ApiError(409, f"variable '{body.key}' already exists; change it with PATCH")
    entry, _ = set_variable(session, body.key, body.value, body.description or "")
    user.actor(request).record(session, "variables_create", extra={"key": body.key})
    return _out(entry)


@router.patch("/variables/{key:path}", response_model=VariableOut)
def update(
    request: Request, session: DbSession, user: Editor, key: str, body: VariablePatch
) -> VariableOut:
    """Change a variable's value and/or description."""
    if body.key is not None and body.key != key:
        raise ApiError(400, f"the body's key '{body.key}' is not the path's key '{key}'")
    current = _require(session, key)
    value = current.value if body.value is None else body.value
    entry, _ = set_variable(session, key, value, body.description)
    user.actor(request).record(session, "variables_update", extra={"key": key})
    return _out(entry)


@router.delete("/variables/{key:path}", status_code=204, response_class=Response)
def delete(request: Request, session: DbSession, user: Editor, key: str) -> Response:
    """Delete a variable."""
    if not delete_variable(session, key):
        raise ApiError(404, f"no variable '{key}'")
    user.actor(request).record(session, "variables_delete", extra={"key": key})
    return Response(status_code=204)
