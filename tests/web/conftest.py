"""Fixtures for the web UI and the REST API: the app on the test database, and clients
logged in as each role (through the real login form, so sessions and CSRF are real)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sluice.config import Settings, load_settings
from sluice.store.engine import Store
from sluice.store.tables import User
from sluice.store.users import _HASHER

ROLES = ("Admin", "Op", "User", "Viewer")
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One argon2 hash for every test user: hashing costs ~50 ms each time."""
    return _HASHER.hash(PASSWORD)


def web_settings(store: Store, home: Path, **extra: Any) -> Settings:
    """Settings of a web server on the test database, with its home in ``home``."""
    overrides: dict[tuple[str, str], object] = {
        ("database", "sql_alchemy_conn"): store.url,
        ("core", "load_examples"): False,
        ("core", "dags_folder"): str(home / "dags"),
        ("logging", "base_log_folder"): str(home / "logs"),
    }
    overrides.update({tuple(key.split(".", 1)): value for key, value in extra.items()})  # type: ignore[misc]
    return load_settings(home=home, env={}, overrides=overrides)


@dataclass
class Web:
    """The application on the test database, its settings and its users (one per role,
    named after the role in lower case, all with PASSWORD)."""

    app: FastAPI
    settings: Settings
    store: Store

    def client(self, role: str | None = None) -> Client:
        """A browser-like client, logged in as the user of ``role`` (None: not logged in)."""
        client = Client(self.app, base_url="http://testserver")
        if role is not None:
            client.login(role.lower(), PASSWORD)
        return client

    def api(self, role: str) -> TestClient:
        """A script-like client using HTTP basic auth as the user of ``role``."""
        token = base64.b64encode(f"{role.lower()}:{PASSWORD}".encode()).decode()
        return TestClient(self.app, headers={"Authorization": f"Basic {token}"})


class Client(TestClient):
    """A TestClient that logs in through the form and knows its session's CSRF token."""

    csrf: str = ""

    def login(self, username: str, password: str) -> Any:
        page = self.get("/login")
        token = _CSRF.search(page.text)
        assert token, page.text
        response = self.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        self.refresh_csrf()
        return response

    def refresh_csrf(self) -> str:
        """Read the session's CSRF token off a page."""
        page = self.get("/profile")
        found = _CSRF.search(page.text)
        assert found, page.text
        self.csrf = found.group(1)
        return self.csrf

    def submit(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST a form with the session's CSRF token, not following the redirect."""
        kwargs.setdefault("follow_redirects", False)
        return self.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)

    def call(self, method: str, url: str, **kwargs: Any) -> Any:
        """An API call under the session cookie, with the CSRF header."""
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return self.request(method, url, headers=headers, **kwargs)


@pytest.fixture
def web(store: Store, tmp_path: Path, password_hash: str) -> Iterator[Web]:
    """The application on the test database, with one user per role."""
    from sluice.web.app import create_app

    home = tmp_path / "home"
    (home / "dags").mkdir(parents=True, exist_ok=True)
    (home / "logs").mkdir(exist_ok=True)
    settings = web_settings(store, home)
    with store.transaction() as session:
        for role in ROLES:
            session.add(
                User(
                    username=role.lower(),
                    password_hash=password_hash,
                    role=role,
                    active=True,
                    created_at=datetime.now(UTC),
                )
            )
    yield Web(app=create_app(settings, store), settings=settings, store=store)
