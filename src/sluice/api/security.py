"""Who makes a request, and whether they may: sessions, basic auth, API tokens, roles, CSRF.

A request is authenticated by, in this order: an ``Authorization: Bearer <token>``
header (a user's API token), an ``Authorization: Basic`` header (username and
password), or the signed session cookie the login page sets. Requests that change
something under a session cookie must carry its CSRF token, as a ``csrf_token`` form
field or an ``X-CSRF-Token`` header; header-authenticated requests need none, since a
browser never adds those headers by itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from sluice.actions.common import Actor
from sluice.api.context import context, db
from sluice.api.problems import ApiError, NotAuthenticated, is_api
from sluice.core.roles import PERMISSION_WORDS, Permission, allows
from sluice.store.tables import User
from sluice.store.users import authenticate, get_user_by_id, user_by_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
BASIC_CACHE_SECONDS = 60.0
"""How long a checked basic-auth password is trusted: argon2 costs ~50 ms per check, too
much for a script polling the API."""


@dataclass(frozen=True)
class CurrentUser:
    """The user a request acts as."""

    id: int
    username: str
    role: str
    via: str
    """``session``, ``basic`` or ``token``."""

    def can(self, permission: Permission) -> bool:
        """Whether the user's role has ``permission``."""
        return allows(self.role, permission)

    def actor(self, request: Request) -> Actor:
        """The user as the actions and the audit log name them (``ui`` or ``api``)."""
        return Actor(self.username, "api" if is_api(request) else "ui")


def _current(user: User, via: str) -> CurrentUser:
    return CurrentUser(id=user.id, username=user.username, role=user.role, via=via)


class _BasicCache:
    """Recently checked (username, password) pairs, by a hash of both."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(username: str, password: str) -> str:
        return hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()

    def get(self, key: str) -> int | None:
        with self._lock:
            seen = self._seen.get(key)
            if seen is None or seen[0] < time.monotonic():
                self._seen.pop(key, None)
                return None
            return seen[1]

    def put(self, key: str, user_id: int) -> None:
        with self._lock:
            if len(self._seen) > 1000:
                self._seen.clear()
            self._seen[key] = (time.monotonic() + BASIC_CACHE_SECONDS, user_id)


_basic_cache = _BasicCache()


def client_address(request: Request) -> str:
    """The client's address, for rate limits."""
    return request.client.host if request.client else "unknown"


def refuse_while_limited(request: Request, username: str) -> tuple[str, str]:
    """429 while the username or the client's address has too many recent failed logins
    (whatever the password now); else the limiter's keys for this attempt."""
    keys = (f"user:{username.lower()}", f"addr:{client_address(request)}")
    wait = context(request).limiter.retry_after(*keys)
    if wait > 0:
        raise ApiError(
            429,
            f"too many failed logins; try again in {int(wait) + 1} seconds",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    return keys


def check_login(
    request: Request, session: Session, username: str, password: str, *, record: bool = True
) -> User:
    """The user, if the password is right and no limit applies; ApiError otherwise.
    ``record`` notes the login in the user's row (a write)."""
    ctx = context(request)
    keys = refuse_while_limited(request, username)
    user = authenticate(session, username, password, record=record)
    if user is None:
        ctx.limiter.failed(*keys)
        raise ApiError(401, "wrong username or password", headers={"WWW-Authenticate": "Basic"})
    ctx.limiter.succeeded(*keys)
    return user


def _from_header(request: Request, session: Session, header: str) -> CurrentUser:
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        user = user_by_token(session, value.strip())
        if user is None:
            raise NotAuthenticated("the API token is unknown, replaced or of an inactive user")
        return _current(user, "token")
    if scheme == "basic":
        try:
            username, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise NotAuthenticated("the Authorization header is not valid basic auth") from None
        key = _basic_cache.key(username, password)
        refuse_while_limited(request, username)  # even a right (or cached) password
        user_id = _basic_cache.get(key)
        cached = get_user_by_id(session, user_id) if user_id is not None else None
        if cached is not None and cached.active and cached.username == username:
            return _current(cached, "basic")
        # A script's request (often a GET, in a transaction that only reads) is not a login
        # to note: on SQLite, writing there could fail with "database is locked".
        user = check_login(request, session, username, password, record=False)
        _basic_cache.put(key, user.id)
        return _current(user, "basic")
    raise NotAuthenticated(f"unknown Authorization scheme {scheme!r}; use Basic or Bearer")


def session_user(request: Request, session: Session) -> CurrentUser | None:
    """The user of the session cookie, if it names an active one."""
    user_id = request.session.get("uid")
    if not isinstance(user_id, int):
        return None
    user = get_user_by_id(session, user_id)
    if user is None or not user.active or request.session.get("pw") != password_mark(user):
        request.session.clear()
        return None
    return _current(user, "session")


def password_mark(user: User) -> str:
    """A short mark of the user's password hash: a changed password ends old sessions."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made when first asked for)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request whose CSRF token is missing or wrong."""
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None and _is_form(request):
        field = (await request.form()).get(CSRF_FIELD)
        given = field if isinstance(field, str) else None
    if not (isinstance(expected, str) and given and secrets.compare_digest(expected, given)):
        raise ApiError(
            403,
            "the CSRF token is missing or wrong; reload the page and try again",
            title="CSRF check failed",
        )


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


async def identify(request: Request, session: Session) -> CurrentUser:
    """The request's user, or NotAuthenticated; a session request that changes something
    must pass the CSRF check."""
    header = request.headers.get("authorization")
    if header:
        return _from_header(request, session, header)
    user = session_user(request, session)
    if user is None:
        raise NotAuthenticated()
    if request.method not in SAFE_METHODS:
        await check_csrf(request)
    return user


def require(permission: Permission) -> Callable[..., Awaitable[CurrentUser]]:
    """A dependency: the request's user, who must have ``permission`` (403 otherwise)."""

    async def dependency(request: Request, session: Annotated[Session, Depends(db)]) -> CurrentUser:
        user = await identify(request, session)
        if not user.can(permission):
            raise ApiError(
                403,
                f"user '{user.username}' (role {user.role}) may not do this: a role is needed"
                f" {PERMISSION_WORDS[permission]}",
            )
        request.state.user = user
        return user

    return dependency


def login_session(request: Request, user: User) -> None:
    """Start a new session for ``user`` (a fresh CSRF token: no fixation)."""
    request.session.clear()
    request.session["uid"] = user.id
    request.session["pw"] = password_mark(user)
    request.session["csrf"] = secrets.token_urlsafe(32)


def as_dict(user: CurrentUser) -> dict[str, Any]:
    """The user as the pages show it."""
    return {"username": user.username, "role": user.role}
