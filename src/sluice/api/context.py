"""What every request reaches: the settings, the store and the web server's secrets."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from fastapi import Request
from sqlalchemy.orm import Session

from sluice.api.login_limits import LoginLimiter
from sluice.api.stored_secrets import StoredSecrets
from sluice.config import Settings
from sluice.store.engine import READ_ONLY, Store

SECRET_KEY_FILE = "webserver_secret_key"


@dataclass
class AppContext:
    """The web server's state, kept on ``app.state.ctx``."""

    settings: Settings
    store: Store
    secret_key: str
    limiter: LoginLimiter = field(default_factory=LoginLimiter)

    @cached_property
    def secrets(self) -> StoredSecrets:
        """The stored secrets, masked in the task output pages show (logs, XCom)."""
        return StoredSecrets(
            self.store,
            enabled=self.settings.get_bool("core", "hide_sensitive_var_conn_fields"),
            extra_words=self.settings.get_str("core", "sensitive_var_conn_names"),
        )

    @property
    def log_folder(self) -> Path:
        """Where task logs are; no request reads a file outside it."""
        return self.settings.base_log_folder.resolve()


def secret_key(settings: Settings) -> str:
    """[webserver] secret_key, else the key kept in SLUICE_HOME (made on first start)."""
    configured = settings.get_str("webserver", "secret_key")
    if configured:
        return configured
    path = settings.home / SECRET_KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    settings.home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Created readable by its owner only, and never overwritten if another process won.
    try:
        with open(path, "x", opener=_private) as handle:
            handle.write(key + "\n")
    except FileExistsError:
        return path.read_text().strip()
    return key


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def context(request: Request) -> AppContext:
    """The application's context (a FastAPI dependency)."""
    ctx: AppContext = request.app.state.ctx
    return ctx


def db(request: Request) -> Iterator[Session]:
    """A database session in one transaction for the request: committed when the endpoint
    returns, rolled back when it raises. GET and HEAD requests only read (on SQLite they
    take no write lock)."""
    store = context(request).store
    with store.sessions() as session, session.begin():
        if request.method in ("GET", "HEAD"):
            session.connection(execution_options={READ_ONLY: True})
        yield session
