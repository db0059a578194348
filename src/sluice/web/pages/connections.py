"""Pages: Admin > Connections (list, create, edit, delete, and the Test button).

The stored password is never sent to the browser: the edit form's password field is
empty ("unchanged" when one is set), and saving it empty keeps the stored password.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import escape

from sluice.api.connection_test import StoredPasswordRefused, try_connection, with_stored_password
from sluice.api.deps import DbSession, Editor
from sluice.api.problems import ApiError
from sluice.core.errors import SluiceError
from sluice.store.connections import (
    ConnectionInputError,
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
from sluice.web.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
CONN_TYPES = (
    ("postgres", "PostgreSQL"), ("mysql", "MySQL / MariaDB"), ("sqlite", "SQLite"),
    ("http", "HTTP"), ("https", "HTTPS"), ("aws", "Amazon Web Services / S3"),
    ("smtp", "SMTP (email)"), ("fs", "File system (a local folder)"),
    ("slackwebhook", "Slack incoming webhook"), ("slack", "Slack API"), ("generic", "Generic"),
)  # fmt: skip
"""The types the form offers (a stored connection of another type keeps its own)."""


class ConnectionForm:
    """The fields the form posts, checked one by one so that each error shows by its field."""

    def __init__(self, conn_id: str, conn_type: str, description: str, host: str,
                 schema: str, login: str, port: str, extra: str) -> None:  # fmt: skip
        self.values: dict[str, Any] = {
            "conn_id": conn_id.strip(), "conn_type": conn_type.strip(),
            "description": description, "host": host, "schema": schema, "login": login,
            "port": port.strip(), "extra": extra,
        }  # fmt: skip
        self.errors: dict[str, str] = {}

    def check(self, *, new: bool) -> bool:
        """Whether every field is acceptable (errors in ``self.errors`` otherwise)."""
        checks: dict[str, Callable[[], object]] = {
            "conn_type": self._conn_type,
            "port": lambda: check_port(self.values["port"]),
            "extra": lambda: check_extra(self.values["extra"]),
        }
        if new:
            checks["conn_id"] = lambda: check_conn_id(self.values["conn_id"])
        for field, check in checks.items():
            try:
                check()
            except ConnectionInputError as exc:
                self.errors[field] = str(exc)
        return not self.errors

    def _conn_type(self) -> None:
        if not self.values["conn_type"]:
            raise ConnectionInputError("choose a connection type")

    def fields(self) -> dict[str, Any]:
        """The fields for the store (everything but conn_id)."""
        return {k: v for k, v in self.values.items() if k != "conn_id"}


def posted_connection(
    # Not named conn_id: the edit route has a path parameter of that name.
    posted_id: Annotated[str, Form(alias="conn_id")] = "",
    conn_type: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    host: Annotated[str, Form()] = "",
    schema_: Annotated[str, Form(alias="schema")] = "",
    login: Annotated[str, Form()] = "",
    port: Annotated[str, Form()] = "",
    extra: Annotated[str, Form()] = "",
) -> ConnectionForm:
    """The connection fields a form posted (the password is read apart: never echoed)."""
    return ConnectionForm(posted_id, conn_type, description, host, schema_, login, port, extra)


PostedConnection = Annotated[ConnectionForm, Depends(posted_connection)]


@router.get("/connections")
def connections_page(
    request: Request, session: DbSession, user: Editor, search: str = "", offset: int = 0
) -> Response:
    """Every connection, by conn_id."""
    offset = max(offset, 0)
    infos, total = list_connections(session, search=search or None, limit=PAGE_SIZE,
                                    offset=offset)  # fmt: skip
    return render(request, "admin_connections.html", {
        "nav": "admin", "rows": infos, "total": total, "search": search, "offset": offset,
        "limit": PAGE_SIZE,
    })  # fmt: skip


def _render_form(
    request: Request,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    editing: bool,
    password_set: bool = False,
    status: int = 200,
) -> Response:
    types = list(CONN_TYPES)
    if values.get("conn_type") and values["conn_type"] not in dict(types):
        types.append((values["conn_type"], values["conn_type"]))
    return render(request, "admin_connection_form.html", {
        "nav": "admin", "values": values, "errors": errors, "editing": editing,
        "password_set": password_set, "conn_types": types,
    }, status=status)  # fmt: skip


@router.get("/connections/new")
def new_connection(request: Request, user: Editor) -> Response:
    """The form for a new connection."""
    values = {"conn_id": "", "conn_type": "", "description": "", "host": "", "schema": "",
              "login": "", "port": "", "extra": ""}  # fmt: skip
    return _render_form(request, values, {}, editing=False)


@router.post("/connections/new")
def create(
    request: Request,
    session: DbSession,
    user: Editor,
    form: PostedConnection,
    password: Annotated[str, Form()] = "",
) -> Response:
    """Create a connection; errors are shown next to the fields."""
    if form.check(new=True) and get_connection(session, form.values["conn_id"]) is not None:
        form.errors["conn_id"] = f"connection '{form.values['conn_id']}' already exists"
    if form.errors:
        return _render_form(request, form.values, form.errors, editing=False, status=400)
    create_connection(session, form.values["conn_id"], form.fields(), password or None)
    user.actor(request).record(
        session, "connections_create", extra={"conn_id": form.values["conn_id"]}
    )
    flash(request, f"Connection '{form.values['conn_id']}' created.", "success")
    return redirect("/connections")


@router.get("/connections/{conn_id}/edit")
def edit(request: Request, session: DbSession, user: Editor, conn_id: str) -> Response:
    """The form to change a connection; the password field stays empty."""
    info = get_connection(session, conn_id)
    if info is None:
        raise ApiError(404, f"no connection '{conn_id}'")
    values = {
        "conn_id": info.conn_id,
        "conn_type": info.conn_type,
        "description": info.description or "",
        "host": info.host or "",
        "schema": info.schema or "",
        "login": info.login or "",
        "port": "" if info.port is None else str(info.port),
        "extra": info.extra or "",
    }
    return _render_form(request, values, {}, editing=True, password_set=info.password_set)


@router.post("/connections/{conn_id}/edit")
def update(
    request: Request,
    session: DbSession,
    user: Editor,
    conn_id: str,
    form: PostedConnection,
    password: Annotated[str, Form()] = "",
    clear_password: Annotated[str, Form()] = "",
) -> Response:
    """Save a connection: an empty password keeps the stored one unless "clear" is ticked."""
    current = get_connection(session, conn_id)
    if current is None:
        raise ApiError(404, f"no connection '{conn_id}'")
    form.values["conn_id"] = conn_id  # the path names the connection, not the form
    if not form.check(new=False):
        return _render_form(request, form.values, form.errors, editing=True,
                            password_set=current.password_set, status=400)  # fmt: skip
    update_connection(session, conn_id, form.fields(), password=password or None,
                      clear_password=bool(clear_password))  # fmt: skip
    user.actor(request).record(session, "connections_update", extra={"conn_id": conn_id})
    flash(request, f"Connection '{conn_id}' saved.", "success")
    return redirect("/connections")


@router.post("/connections/{conn_id}/delete")
def delete(request: Request, session: DbSession, user: Editor, conn_id: str) -> Response:
    """Delete a connection."""
    if not delete_connection(session, conn_id):
        raise ApiError(404, f"no connection '{conn_id}'")
    user.actor(request).record(session, "connections_delete", extra={"conn_id": conn_id})
    flash(request, f"Connection '{conn_id}' deleted.", "success")
    return redirect("/connections")


@router.post("/connections/test")
def test(
    request: Request,
    session: DbSession,
    user: Editor,
    form: PostedConnection,
    password: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The Test button (htmx): try the connection as the form has it now; a small message.

    With the password field empty, the stored password is used, but only towards the
    stored host, port, schema and login.
    """
    values = form.values
    conn_id = values["conn_id"]
    stored = get_connection_secrets(session, conn_id) if conn_id else None
    try:
        typed = ConnectionSecrets(
            conn_id=conn_id, conn_type=values["conn_type"],
            host=values["host"].strip() or None, schema=values["schema"].strip() or None,
            login=values["login"].strip() or None, password=password or None,
            port=check_port(values["port"]), extra=check_extra(values["extra"]),
        )  # fmt: skip
        conn = with_stored_password(typed, stored)
        ok, message = (
            (False, "choose a connection type") if not conn.conn_type else (try_connection(conn))
        )
    except (SluiceError, StoredPasswordRefused) as exc:
        ok, message = False, str(exc)
    kind = "ok" if ok else "fail"
    label = "Connection works" if ok else "Connection failed"
    return HTMLResponse(
        f'<span class="conn-test {kind}" role="status">{label}: {escape(message)}</span>'
    )
