"""REST API: users (list, get, create, update, delete); Admin only (MANAGE_USERS).

No response holds a password hash or an API token. The last active Admin can be neither
deleted, demoted nor deactivated.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from sluice.api.bodies import Body
from sluice.api.deps import DbSession, Paging, UserAdmin
from sluice.api.pagination import Page, fetch
from sluice.api.problems import ApiError
from sluice.store.tables import User
from sluice.store.users import (
    UserInfo,
    create_user,
    delete_user,
    get_user,
    info,
    update_user,
)

router = APIRouter(tags=["User"])


class UserOut(BaseModel):
    """A user, without any secret."""

    username: str
    role: str
    email: str | None = None
    active: bool
    created_at: datetime
    last_login: datetime | None = None
    has_api_token: bool


class UserIn(Body):
    """A new user."""

    model_config = ConfigDict(extra="forbid")

    username: str
    password: str = Field(description="At least 8 characters.")
    role: str = Field(description="Admin, Op, User or Viewer.")
    email: str | None = None


class UserPatch(Body):
    """The fields of a user to change."""

    model_config = ConfigDict(extra="forbid")

    role: str | None = None
    email: str | None = Field(None, description="An empty string removes it.")
    active: bool | None = None
    password: str | None = Field(None, description="A new password (at least 8 characters).")


def _out(user: UserInfo) -> UserOut:
    return UserOut(
        username=user.username, role=user.role, email=user.email, active=user.active,
        created_at=user.created_at, last_login=user.last_login, has_api_token=user.has_api_token,
    )  # fmt: skip


def _require(session: DbSession, username: str) -> User:
    user = get_user(session, username)
    if user is None:
        raise ApiError(404, f"no user '{username}'")
    return user


@router.get("/users", response_model=Page[UserOut])
def list_all(session: DbSession, admin: UserAdmin, page: Paging) -> Page[UserOut]:
    """List users by username."""
    rows, total = fetch(session, select(User).order_by(User.username), page)
    items = [_out(info(row[0])) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/users/{username}", response_model=UserOut)
def get_one(session: DbSession, admin: UserAdmin, username: str) -> UserOut:
    """Get one user."""
    return _out(info(_require(session, username)))


@router.post("/users", response_model=UserOut)
def create(request: Request, session: DbSession, admin: UserAdmin, body: UserIn) -> UserOut:
    """Create a user (409 if the username is taken)."""
    if get_user(session, body.username) is not None:
        raise ApiError(409, f"user '{body.username}' already exists")
    user = create_user(session, body.username, body.password, body.role, body.email)
    admin.actor(request).record(
        session, "users_create", extra={"username": user.username, "role": user.role}
    )
    return _out(info(user))


@router.patch("/users/{username}", response_model=UserOut)
def update(
    request: Request, session: DbSession, admin: UserAdmin, username: str, body: UserPatch
) -> UserOut:
    """Change a user's role, email, active flag or password."""
    _require(session, username)
    user = update_user(
        session, username, role=body.role, email=body.email, active=body.active,
        password=body.password,
    )  # fmt: skip
    changed = sorted(body.model_dump(exclude_unset=True))
    admin.actor(request).record(
        session, "users_update", extra={"username": username, "fields": changed}
    )
    return _out(info(user))


@router.delete("/users/{username}", status_code=204, response_class=Response)
def delete(request: Request, session: DbSession, admin: UserAdmin, username: str) -> Response:
    """Delete a user; refused for the last active Admin."""
    _require(session, username)
    delete_user(session, username)
    admin.actor(request).record(session, "users_delete", extra={"username": username})
    return Response(status_code=204)
