"""Logging in and out, and the user's own profile (password, API token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from sluice.api.deps import DbSession, Reader
from sluice.api.problems import ApiError
from sluice.api.security import check_csrf, check_login, login_session
from sluice.store.users import UserError, new_api_token, require_user, update_user
from sluice.web.links import safe_next
from sluice.web.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    """The login form."""
    return render(request, "login.html", {"next": safe_next(next), "username": "", "error": ""})


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    session: DbSession,
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password; on success start a session and go where the user was going."""
    await check_csrf(request)
    try:
        user = check_login(request, session, username, password)
    except ApiError as exc:
        context = {"next": safe_next(next), "username": username, "error": exc.detail}
        return render(request, "login.html", context, status=exc.status)
    login_session(request, user)
    return redirect(safe_next(next))


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session."""
    await check_csrf(request)
    request.session.clear()
    return redirect("/login")


@router.get("/profile")
def profile(request: Request, user: Reader) -> Response:
    """The user's own account: change the password, make an API token."""
    return render(request, "profile.html", {"token": request.session.pop("new_token", None)})


@router.post("/profile/password")
def change_password(
    request: Request,
    current: Annotated[str, Form()],
    password: Annotated[str, Form()],
    user: Reader,
    session: DbSession,
) -> Response:
    """Change one's own password (the current one is asked for again)."""
    check_login(request, session, user.username, current)
    try:
        changed = update_user(session, user.username, password=password)
    except UserError as exc:
        flash(request, str(exc), "error")
        return redirect("/profile")
    login_session(request, changed)  # the old sessions end; this one goes on
    flash(request, "Password changed.", "success")
    return redirect("/profile")


@router.post("/profile/token")
def make_token(
    request: Request,
    user: Reader,
    session: DbSession,
) -> Response:
    """A new API token, shown once on the profile page."""
    require_user(session, user.username)
    request.session["new_token"] = new_api_token(session, user.username)
    return redirect("/profile")
