"""Pages: Admin > Users (list, create, edit role/email/active, reset password, delete).

Admin only (MANAGE_USERS). The last active Admin can be neither deleted, demoted nor
deactivated; the store refuses and the page says why.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from sluice.api.deps import DbSession, UserAdmin
from sluice.api.problems import ApiError
from sluice.core.roles import Role
from sluice.store.tables import User
from sluice.store.users import (
    UserError,
    check_password,
    check_username,
    create_user,
    delete_user,
    get_user,
    info,
    list_users,
    update_user,
)
from sluice.web.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)
ROLES = [role.value for role in Role]


@router.get("/users")
def users_page(request: Request, session: DbSession, admin: UserAdmin) -> Response:
    """Every user, by username."""
    users = [info(user) for user in list_users(session)]
    return render(request, "admin_users.html", {"nav": "admin", "users": users})


def _new_form(request: Request, values: dict[str, Any], errors: dict[str, str],
              status: int = 200) -> Response:  # fmt: skip
    context = {"nav": "admin", "values": values, "errors": errors, "roles": ROLES}
    return render(request, "admin_user_new.html", context, status=status)


@router.get("/users/new")
def new_user(request: Request, admin: UserAdmin) -> Response:
    """The form for a new user."""
    return _new_form(request, {"username": "", "role": Role.VIEWER.value, "email": ""}, {})


def _check_passwords(password: str, again: str, errors: dict[str, str]) -> None:
    try:
        check_password(password)
    except UserError as exc:
        errors["password"] = str(exc)
        return
    if password != again:
        errors["password_again"] = "the two passwords differ"


@router.post("/users/new")
def create(
    request: Request,
    session: DbSession,
    admin: UserAdmin,
    username: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_again: Annotated[str, Form()] = "",
) -> Response:
    """Create a user; errors are shown next to the fields."""
    username = username.strip()
    values = {"username": username, "role": role, "email": email}
    errors: dict[str, str] = {}
    try:
        check_username(username)
        if get_user(session, username) is not None:
            errors["username"] = f"user '{username}' already exists"
    except UserError as exc:
        errors["username"] = str(exc)
    if role not in ROLES:
        errors["role"] = f"unknown role {role!r}; the roles are {', '.join(ROLES)}"
    _check_passwords(password, password_again, errors)
    if errors:
        return _new_form(request, values, errors, status=400)
    create_user(session, username, password, role, email.strip() or None)
    admin.actor(request).record(session, "users_create", extra={"username": username,
                                                               "role": role})  # fmt: skip
    flash(request, f"User '{username}' created.", "success")
    return redirect("/users")


def _require(session: DbSession, username: str) -> User:
    user = get_user(session, username)
    if user is None:
        raise ApiError(404, f"no user '{username}'")
    return user


def _edit_form(request: Request, user: User, errors: dict[str, str],
               values: dict[str, Any] | None = None, status: int = 200) -> Response:  # fmt: skip
    shown = values or {"role": user.role, "email": user.email or "", "active": user.active}
    return render(request, "admin_user_edit.html", {
        "nav": "admin", "account": info(user), "values": shown, "errors": errors,
        "roles": ROLES,
    }, status=status)  # fmt: skip


@router.get("/users/{username}/edit")
def edit(request: Request, session: DbSession, admin: UserAdmin, username: str) -> Response:
    """The form to change a user's role, email and active flag, or reset the password."""
    return _edit_form(request, _require(session, username), {})


@router.post("/users/{username}/edit")
def update(
    request: Request,
    session: DbSession,
    admin: UserAdmin,
    username: str,
    role: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
) -> Response:
    """Save a user's role, email and active flag."""
    user = _require(session, username)
    values = {"role": role, "email": email, "active": bool(active)}
    if role not in ROLES:
        errors = {"role": f"unknown role {role!r}; the roles are {', '.join(ROLES)}"}
        return _edit_form(request, user, errors, values, status=400)
    try:
        update_user(session, username, role=role, email=email.strip(), active=bool(active))
    except UserError as exc:
        return _edit_form(request, user, {"form": str(exc)}, values, status=409)
    admin.actor(request).record(
        session, "users_update",
        extra={"username": username, "role": role, "active": bool(active)},
    )  # fmt: skip
    flash(request, f"User '{username}' saved.", "success")
    return redirect("/users")


@router.post("/users/{username}/password")
def reset_password(
    request: Request,
    session: DbSession,
    admin: UserAdmin,
    username: str,
    password: Annotated[str, Form()] = "",
    password_again: Annotated[str, Form()] = "",
) -> Response:
    """Set a new password for a user (their sessions end)."""
    user = _require(session, username)
    errors: dict[str, str] = {}
    _check_passwords(password, password_again, errors)
    if errors:
        return _edit_form(request, user, errors, status=400)
    update_user(session, username, password=password)
    admin.actor(request).record(
        session, "users_update", extra={"username": username, "fields": ["password"]}
    )
    flash(request, f"Password of '{username}' changed.", "success")
    return redirect("/users")


@router.post("/users/{username}/delete")
def delete(request: Request, session: DbSession, admin: UserAdmin, username: str) -> Response:
    """Delete a user (never the last active Admin)."""
    user = _require(session, username)
    try:
        delete_user(session, username)
    except UserError as exc:
        return _edit_form(request, user, {"form": str(exc)}, status=409)
    admin.actor(request).record(session, "users_delete", extra={"username": username})
    flash(request, f"User '{username}' deleted.", "success")
    return redirect("/users")
