"""REST API: connections (list, get, create, update, delete, test).

The password is write-only: no response holds it, only ``password_set``. Secret-looking
fields of ``extra`` come back as ***; sending *** back keeps the stored value. Reading
connections needs EDIT_GLOBAL (Admin and Op), as writing does.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from sluice.api.connection_test import StoredPasswordRefused, try_connection, with_stored_password
from sluice.api.deps import DbSession, Editor, Paging
from sluice.api.pagination import Page
from sluice.api.problems import ApiError
from sluice.store.connections import (
    ConnectionInfo,
    ConnectionSecrets,
    check_conn_id,
    check_extra,
    check_port,
    create_connection,
    delete_connection,
    get_connection,
    get_connection_secrets,
    list_connections,
    update_connection,
)

router = APIRouter(tags=["Connection"])

Extra = str | dict[str, Any] | None
"""JSON object text, as Airflow's API takes it, or the object itself."""


class ConnectionOut(BaseModel):
    """A connection, without its password."""

    model_config = ConfigDict(populate_by_name=True)

    conn_id: str
    conn_type: str
    description: str | None = None
    host: str | None = None
    schema_: str | None = Field(None, alias="schema")
    login: str | None = None
    port: int | None = None
    extra: str | None = Field(None, description="JSON object text; secret fields as ***.")
    password_set: bool = Field(description="Whether a password is stored (never returned).")


class ConnectionFieldsIn(BaseModel):
    """Fields of a connection a request may set."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    conn_type: str | None = None
    description: str | None = None
    host: str | None = None
    schema_: str | None = Field(None, alias="schema")
    login: str | None = None
    port: int | None = None
    extra: Extra = None
    password: str | None = Field(None, description="Write-only.")


class ConnectionIn(ConnectionFieldsIn):
    """A new connection."""

    conn_id: str
    conn_type: str | None = Field(None, description="postgres, mysql, http, ... (required)")


class ConnectionPatch(ConnectionFieldsIn):
    """The fields of a connection to change; a missing or empty password keeps the old one."""

    conn_id: str | None = None
    clear_password: bool = Field(False, description="Remove the stored password.")


class ConnectionTestIn(ConnectionFieldsIn):
    """A connection to test: a stored conn_id alone, or fields (a stored connection's
    password is used when none is given)."""

    conn_id: str | None = None


class ConnectionTestOut(BaseModel):
    """Whether the connection works."""

    status: bool
    message: str


def _out(info: ConnectionInfo) -> ConnectionOut:
    return ConnectionOut(
        conn_id=info.conn_id, conn_type=info.conn_type, description=info.description,
        host=info.host, schema=info.schema, login=info.login, port=info.port,
        extra=info.extra, password_set=info.password_set,
    )  # fmt: skip


def _fields(body: ConnectionFieldsIn) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True, exclude={"password", "conn_id", "clear_password"})
    if "schema_" in given:
        given["schema"] = given.pop("schema_")
    if isinstance(given.get("extra"), dict):
        given["extra"] = json.dumps(given["extra"])
    return given


@router.get("/connections", response_model=Page[ConnectionOut])
def list_all(
    session: DbSession,
    user: Editor,
    page: Paging,
    search: Annotated[str | None, Query(description="Part of the id, type or host.")] = None,
) -> Page[ConnectionOut]:
    """List connections by conn_id."""
    infos, total = list_connections(session, search=search, limit=page.limit, offset=page.offset)
    return Page(items=[_out(i) for i in infos], total=total, limit=page.limit, offset=page.offset)


@router.post("/connections/test", response_model=ConnectionTestOut)
def test(
    request: Request, session: DbSession, user: Editor, body: ConnectionTestIn
) -> ConnectionTestOut:
    """Try the connection once (SELECT 1 for databases, a GET for HTTP; 5 s timeout).

    Answers 200 with ``status`` false when the connection fails; the message never holds
    the password.
    """
    stored = get_connection_secrets(session, body.conn_id) if body.conn_id else None
    fields = _fields(body)
    if body.conn_id and stored is None and not fields:
        raise ApiError(404, f"no connection '{body.conn_id}'")
    if not fields and stored is not None:
        conn = stored
    else:
        conn_type = fields.get("conn_type") or (stored.conn_type if stored else None)
        if not conn_type:
            raise ApiError(400, "conn_type is needed to test a connection")
        typed = ConnectionSecrets(
            conn_id=body.conn_id or "",
            conn_type=conn_type,
            host=fields.get("host"),
            schema=fields.get("schema"),
            login=fields.get("login"),
            password=body.password or None,
            port=check_port(fields.get("port")),
            extra=check_extra(fields.get("extra")),
        )
        try:
            conn = with_stored_password(typed, stored)
        except StoredPasswordRefused as exc:
            raise ApiError(400, str(exc)) from None
    ok, message = try_connection(conn)
    return ConnectionTestOut(status=ok, message=message)


@router.get("/connections/{conn_id}", response_model=ConnectionOut)
def get_one(session: DbSession, user: Editor, conn_id: str) -> ConnectionOut:
    """Get one connection (without its password)."""
    info = get_connection(session, conn_id)
    if info is None:
        raise ApiError(404, f"no connection '{conn_id}'")
    return _out(info)


@router.post("/connections", response_model=ConnectionOut)
def create(request: Request, session: DbSession, user: Editor, body: ConnectionIn) -> ConnectionOut:
    """Create a connection (409 if the conn_id exists)."""
    check_conn_id(body.conn_id)
    if get_connection(session, body.conn_id) is not None:
        raise ApiError(409, f"connection '{body.conn_id}' already exists; change it with PATCH")
    info = create_connection(session, body.conn_id, _fields(body), body.password)
    user.actor(request).record(session, "connections_create", extra={"conn_id": body.conn_id})
    return _out(info)


@router.patch("/connections/{conn_id}", response_model=ConnectionOut)
def update(
    request: Request, session: DbSession, user: Editor, conn_id: str, body: ConnectionPatch
) -> ConnectionOut:
    """Change the given fields of a connection; a blank password keeps the stored one."""
    if body.conn_id is not None and body.conn_id != conn_id:
        raise ApiError(400, f"the body's conn_id '{body.conn_id}' is not the path's '{conn_id}'")
    info = update_connection(
        session, conn_id, _fields(body), password=body.password,
        clear_password=body.clear_password,
    )  # fmt: skip
    if info is None:
        raise ApiError(404, f"no connection '{conn_id}'")
    changed = sorted(_fields(body)) + (["password"] if body.password or body.clear_password else [])
    user.actor(request).record(
        session, "connections_update", extra={"conn_id": conn_id, "fields": changed}
    )
    return _out(info)


@router.delete("/connections/{conn_id}", status_code=204, response_class=Response)
def delete(request: Request, session: DbSession, user: Editor, conn_id: str) -> Response:
    """Delete a connection."""
    if not delete_connection(session, conn_id):
        raise ApiError(404, f"no connection '{conn_id}'")
    user.actor(request).record(session, "connections_delete", extra={"conn_id": conn_id})
    return Response(status_code=204)
