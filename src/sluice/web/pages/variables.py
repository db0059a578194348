"""Pages: Admin > Variables (list, create, edit, delete, import and export JSON).

Values of secret-looking keys show as *** in the list and in the edit form; saving the
form with *** left in place keeps the stored value. Export gives real values, so it needs
EDIT_GLOBAL like every page here.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from sluice.api.deps import DbSession, Editor
from sluice.api.problems import ApiError
from sluice.core.secrets_names import MASK, is_sensitive_key
from sluice.store.variables import (
    VariableInputError,
    check_key,
    delete_variable,
    export_variables,
    get_variable,
    import_variables,
    list_variables,
    set_variable,
)
from sluice.web.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/variables")
def variables_page(
    request: Request, session: DbSession, user: Editor, search: str = "", offset: int = 0
) -> Response:
    """Every variable, by key; secret-looking values masked."""
    offset = max(offset, 0)
    entries, total = list_variables(session, search=search or None, limit=PAGE_SIZE, offset=offset)
    rows = [
        {"key": e.key, "value": MASK if is_sensitive_key(e.key) else e.value,
         "description": e.description}
        for e in entries
    ]  # fmt: skip
    return render(request, "admin_variables.html", {
        "nav": "admin", "rows": rows, "total": total, "search": search, "offset": offset,
        "limit": PAGE_SIZE,
    })  # fmt: skip


def _form(request: Request, values: dict[str, Any], errors: dict[str, str], *, editing: bool,
          status: int = 200) -> Response:  # fmt: skip
    return render(request, "admin_variable_form.html", {
        "nav": "admin", "values": values, "errors": errors, "editing": editing,
    }, status=status)  # fmt: skip


@router.get("/variables/new")
def new_variable(request: Request, user: Editor) -> Response:
    """The form for a new variable."""
    return _form(request, {"key": "", "value": "", "description": ""}, {}, editing=False)


@router.post("/variables/new")
def create_variable(
    request: Request,
    session: DbSession,
    user: Editor,
    key: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    """Create a variable; errors are shown next to the fields."""
    values = {"key": key, "value": value, "description": description}
    try:
        check_key(key)
        if get_variable(session, key) is not None:
            raise VariableInputError(f"variable '{key}' already exists; edit it instead")
    except VariableInputError as exc:
        return _form(request, values, {"key": str(exc)}, editing=False, status=400)
    set_variable(session, key, value, description)
    user.actor(request).record(session, "variables_create", extra={"key": key})
    flash(request, f"Variable '{key}' created.", "success")
    return redirect("/variables")


@router.get("/variables/edit")
def edit_variable(request: Request, session: DbSession, user: Editor, key: str) -> Response:
    """The form to change a variable (its key stays)."""
    entry = get_variable(session, key)
    if entry is None:
        raise ApiError(404, f"no variable '{key}'")
    value = MASK if is_sensitive_key(key) else entry.value
    values = {"key": key, "value": value, "description": entry.description or ""}
    return _form(request, values, {}, editing=True)


@router.post("/variables/edit")
def update_variable(
    request: Request,
    session: DbSession,
    user: Editor,
    key: Annotated[str, Form()],
    value: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    """Save a variable; a secret value left as *** stays as it was."""
    entry = get_variable(session, key)
    if entry is None:
        raise ApiError(404, f"no variable '{key}'")
    if is_sensitive_key(key) and value == MASK:
        value = entry.value
    set_variable(session, key, value, description)
    user.actor(request).record(session, "variables_update", extra={"key": key})
    flash(request, f"Variable '{key}' saved.", "success")
    return redirect("/variables")


@router.post("/variables/delete")
def remove_variable(
    request: Request, session: DbSession, user: Editor, key: Annotated[str, Form()]
) -> Response:
    """Delete a variable."""
    if not delete_variable(session, key):
        raise ApiError(404, f"no variable '{key}'")
    user.actor(request).record(session, "variables_delete", extra={"key": key})
    flash(request, f"Variable '{key}' deleted.", "success")
    return redirect("/variables")


@router.get("/variables/import")
def import_form(request: Request, user: Editor) -> Response:
    """The import form: upload a JSON file or paste JSON."""
    return render(request, "admin_variables_import.html", {"nav": "admin", "text": "",
                                                           "error": ""})  # fmt: skip


@router.post("/variables/import")
def import_file(
    request: Request,
    session: DbSession,
    user: Editor,
    text: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Import variables from the uploaded file, else from the pasted text; all or none."""
    raw = text
    if file is not None and file.filename:
        try:
            raw = file.file.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            return _import_error(request, text, "the file is not UTF-8 text")
    if not raw.strip():
        return _import_error(request, text, "choose a JSON file or paste JSON")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return _import_error(request, raw, f"not valid JSON: {exc}")
    try:
        result = import_variables(session, data)
    except VariableInputError as exc:
        return _import_error(request, raw, str(exc))
    user.actor(request).record(
        session, "variables_import",
        extra={"created": len(result.created), "updated": len(result.updated)},
    )  # fmt: skip
    flash(request, f"Imported {len(result.created)} new and {len(result.updated)} changed "
                   "variables.", "success")  # fmt: skip
    return redirect("/variables")


def _import_error(request: Request, text: str, error: str) -> Response:
    context = {"nav": "admin", "text": text, "error": error}
    return render(request, "admin_variables_import.html", context, status=400)


@router.get("/variables/export")
def export_file(session: DbSession, user: Editor) -> Response:
    """Every variable with its real value, as a JSON file to download."""
    body = json.dumps(export_variables(session), indent=2, ensure_ascii=False) + "\n"
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="variables.json"'},
    )
