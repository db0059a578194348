"""Users of the web UI and the REST API: accounts, passwords (argon2) and API tokens."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sluice.core.errors import SluiceError
from sluice.core.roles import Role, parse_role
from sluice.store.tables import User

MIN_PASSWORD = 8
_USERNAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,256}$")
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user is unknown, so that a login costs the same
    either way (no timing oracle); made on first need, not at import."""
    return _HASHER.hash("not a password of anyone")


class UserError(SluiceError):
    """A user that cannot be created, found or changed as asked."""


@dataclass(frozen=True)
class UserInfo:
    """A user as shown in lists: never the password hash."""

    id: int
    username: str
    role: str
    email: str | None
    active: bool
    created_at: datetime
    last_login: datetime | None
    has_api_token: bool


def info(user: User) -> UserInfo:
    """The shareable part of a user row."""
    return UserInfo(
        id=user.id,
        username=user.username,
        role=user.role,
        email=user.email,
        active=user.active,
        created_at=user.created_at,
        last_login=user.last_login,
        has_api_token=user.api_token_hash is not None,
    )


def check_username(username: str) -> str:
    """The username, or UserError saying what is wrong with it."""
    if not _USERNAME.match(username):
        raise UserError(
            f"username {username!r} must be 1 to 256 letters, digits or _ . @ + - characters"
        )
    return username


def check_password(password: str) -> str:
    """The password, or UserError when it is too short."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def create_user(
    session: Session, username: str, password: str, role: str | Role, email: str | None = None
) -> User:
    """A new active user; UserError for a taken username, a bad role or a short password."""
    check_username(username)
    check_password(password)
    try:
        role = parse_role(str(role))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if get_user(session, username) is not None:
        raise UserError(f"user '{username}' already exists")
    user = User(
        username=username,
        password_hash=_HASHER.hash(password),
        role=role.value,
        email=email or None,
        active=True,
        created_at=datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> User | None:
    """The user with this username, if any."""
    return session.scalar(select(User).where(User.username == username))


def get_user_by_id(session: Session, user_id: int) -> User | None:
    """The user with this id, if any."""
    return session.get(User, user_id)


def require_user(session: Session, username: str) -> User:
    """The user with this username, or UserError."""
    user = get_user(session, username)
    if user is None:
        raise UserError(f"no user '{username}'")
    return user


def list_users(session: Session) -> list[User]:
    """Every user, by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def count_users(session: Session) -> int:
    """How many users there are."""
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def delete_user(session: Session, username: str) -> None:
    """Delete a user; UserError if there is none, or if it is the last active Admin."""
    user = require_user(session, username)
    if user.role == Role.ADMIN.value and user.active and _active_admins(session) <= 1:
        raise UserError(f"user '{username}' is the last Admin; create another Admin first")
    session.execute(delete(User).where(User.id == user.id))


def update_user(
    session: Session,
    username: str,
    *,
    role: str | None = None,
    email: str | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> User:
    """Change what is given; the last active Admin keeps its role and stays active."""
    user = require_user(session, username)
    new_role = user.role
    if role is not None:
        try:
            new_role = parse_role(role).value
        except ValueError as exc:
            raise UserError(str(exc)) from None
    demoted = user.role == Role.ADMIN.value and (new_role != Role.ADMIN.value or active is False)
    if demoted and user.active and _active_admins(session) <= 1:
        raise UserError(f"user '{username}' is the last active Admin; it stays an active Admin")
    if password is not None:
        user.password_hash = _HASHER.hash(check_password(password))
    user.role = new_role
    if email is not None:
        user.email = email or None
    if active is not None:
        user.active = active
    session.flush()
    return user


def _active_admins(session: Session) -> int:
    query = select(func.count()).where(User.role == Role.ADMIN.value, User.active.is_(True))
    return int(session.scalar(query) or 0)


def authenticate(
    session: Session, username: str, password: str, *, record: bool = True
) -> User | None:
    """The active user with this username and password, or None; ``record`` notes the
    login (and upgrades an old hash), which writes: not for a request that only reads."""
    user = get_user(session, username)
    try:
        _HASHER.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if not record:
        return user
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    user.last_login = datetime.now(UTC)
    session.flush()
    return user


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_token(session: Session, username: str) -> str:
    """A new API token for the user (the old one stops working); shown once, kept hashed.

    The token is ``<user id>.<secret>``: the id finds the row, the secret is checked
    against its hash. A token is random, so a fast hash is enough.
    """
    user = require_user(session, username)
    secret = secrets.token_urlsafe(32)
    user.api_token_hash = _token_hash(secret)
    session.flush()
    return f"{user.id}.{secret}"


def user_by_token(session: Session, token: str) -> User | None:
    """The active user this API token belongs to, or None."""
    user_id, _, secret = token.partition(".")
    if not user_id.isdigit() or not secret:
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.active or user.api_token_hash is None:
        return None
    if not secrets.compare_digest(user.api_token_hash, _token_hash(secret)):
        return None
    return user
