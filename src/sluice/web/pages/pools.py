"""Pages: Admin > Pools (list with slot usage; create, edit, delete).

Everyone who may read sees the pools; changing them needs EDIT_GLOBAL. default_pool
cannot be deleted, nor a pool with queued or running task instances.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from sluice.api.deps import DbSession, Editor, Reader
from sluice.api.problems import ApiError
from sluice.core.errors import StoreError
from sluice.store.pools import DEFAULT_POOL, check_name, delete_pool, get_pool, list_pools, set_pool
from sluice.web.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/pools")
def pools_page(request: Request, session: DbSession, user: Reader) -> Response:
    """Every pool with its slots: running, queued, scheduled and open."""
    return _pools_list(request, session)


def _pools_list(request: Request, session: DbSession, status: int = 200) -> Response:
    return render(request, "admin_pools.html", {
        "nav": "admin", "pools": list_pools(session), "default_pool": DEFAULT_POOL,
    }, status=status)  # fmt: skip


def _form(request: Request, values: dict[str, Any], errors: dict[str, str], *, editing: bool,
          status: int = 200) -> Response:  # fmt: skip
    return render(request, "admin_pool_form.html", {
        "nav": "admin", "values": values, "errors": errors, "editing": editing,
    }, status=status)  # fmt: skip


def _slots(text: str, errors: dict[str, str]) -> int:
    try:
        slots = int(text.strip())
    except ValueError:
        errors["slots"] = f"slots must be a whole number of 0 or more, not {text!r}"
        return 0
    if slots < 0:
        errors["slots"] = f"slots must be a whole number of 0 or more, not {slots}"
    return slots


@router.get("/pools/new")
def new_pool(request: Request, user: Editor) -> Response:
    """The form for a new pool."""
    return _form(request, {"name": "", "slots": "128", "description": ""}, {}, editing=False)


@router.post("/pools/new")
def create(
    request: Request,
    session: DbSession,
    user: Editor,
    name: Annotated[str, Form()] = "",
    slots: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    """Create a pool; errors are shown next to the fields."""
    values = {"name": name.strip(), "slots": slots, "description": description}
    errors: dict[str, str] = {}
    try:
        check_name(values["name"])
        if get_pool(session, values["name"]) is not None:
            errors["name"] = f"pool '{values['name']}' already exists"
    except StoreError as exc:
        errors["name"] = str(exc)
    count = _slots(slots, errors)
    if errors:
        return _form(request, values, errors, editing=False, status=400)
    set_pool(session, values["name"], count, description)
    user.actor(request).record(session, "pools_create",
                               extra={"pool": values["name"], "slots": count})  # fmt: skip
    flash(request, f"Pool '{values['name']}' created.", "success")
    return redirect("/pools")


@router.get("/pools/{name}/edit")
def edit(request: Request, session: DbSession, user: Editor, name: str) -> Response:
    """The form to change a pool's slots and description."""
    usage = get_pool(session, name)
    if usage is None:
        raise ApiError(404, f"no pool '{name}'")
    values = {"name": name, "slots": str(usage.slots), "description": usage.description or ""}
    return _form(request, values, {}, editing=True)


@router.post("/pools/{name}/edit")
def update(
    request: Request,
    session: DbSession,
    user: Editor,
    name: str,
    slots: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    """Save a pool's slots and description."""
    if get_pool(session, name) is None:
        raise ApiError(404, f"no pool '{name}'")
    errors: dict[str, str] = {}
    count = _slots(slots, errors)
    if errors:
        values = {"name": name, "slots": slots, "description": description}
        return _form(request, values, errors, editing=True, status=400)
    set_pool(session, name, count, description)
    user.actor(request).record(session, "pools_update", extra={"pool": name, "slots": count})
    flash(request, f"Pool '{name}' saved.", "success")
    return redirect("/pools")


@router.post("/pools/{name}/delete")
def delete(request: Request, session: DbSession, user: Editor, name: str) -> Response:
    """Delete a pool (refused for default_pool and for a pool in use)."""
    if get_pool(session, name) is None:
        raise ApiError(404, f"no pool '{name}'")
    try:
        delete_pool(session, name)
    except StoreError as exc:
        flash(request, str(exc), "error")
        return _pools_list(request, session, status=409)
    user.actor(request).record(session, "pools_delete", extra={"pool": name})
    flash(request, f"Pool '{name}' deleted.", "success")
    return redirect("/pools")
