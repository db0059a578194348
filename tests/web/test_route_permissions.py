"""Every route that changes something is guarded: a generic walk over the app's routes.

A new page or endpoint that forgets its Operator/Editor/UserAdmin dependency fails here
without anyone writing a test for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from tests.web.conftest import PASSWORD, Web

from sluice.api.deps import Reader

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CHECK_CSRF_THEMSELVES = frozenset({("POST", "/login"), ("POST", "/logout")})
"""Routes with no user yet (or any user): they check the CSRF token without a role."""

OWN_ACCOUNT = frozenset({("POST", "/profile/password"), ("POST", "/profile/token")})
"""Every logged-in user may change their own password and API token (READ is enough)."""

GUARDED_READS = {
    "/variables": "Op",
    "/connections": "Op",
    "/configuration": "Op",
    "/users": "Admin",
    "/api/v1/variables": "Op",
    "/api/v1/connections": "Op",
    "/api/v1/users": "Admin",
}
"""Path prefixes whose GET routes need more than READ, and the least role that has it."""

_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass(frozen=True)
class Endpoint:
    """One method of one route, with its path parameters filled in."""

    method: str
    path: str
    url: str

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")


def _routes(app: FastAPI) -> Iterator[Any]:
    """Every route of the app, through included routers (FastAPI >= 0.120 keeps them
    behind ``iter_route_contexts``; older versions list them in ``app.routes``)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI
        yield from app.routes
    else:
        yield from iter_route_contexts(app.routes)


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every (method, path) the app serves, with a placeholder in each path parameter."""
    found = []
    for route in _routes(app):
        methods = getattr(route, "methods", None)
        path = getattr(route, "path", None)
        if not methods or not path:
            continue  # static files
        url = _PARAM.sub(lambda m: "1" if m.group(1) == "try_number" else "nothing", path)
        found.extend(Endpoint(method, path, url) for method in sorted(methods))
    return found


def changing(app: FastAPI) -> list[Endpoint]:
    """The endpoints whose method may change something."""
    return [e for e in endpoints(app) if e.method not in READ_METHODS]


def _call(client: Any, endpoint: Endpoint, csrf: str | None) -> Any:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    if endpoint.is_api:
        return client.request(endpoint.method, endpoint.url, json={}, headers=headers)
    data = {"csrf_token": csrf} if csrf else {}
    if endpoint.path == "/login":
        data |= {"username": "admin", "password": PASSWORD}  # Only the token is wrong.
    return client.request(
        endpoint.method, endpoint.url, data=data, headers=headers, follow_redirects=False
    )


def test_the_walk_finds_the_routes(web: Web) -> None:
    """The walk sees pages and API endpoints alike (else the tests below prove nothing)."""
    found = {(e.method, e.path) for e in changing(web.app)}
    assert ("POST", "/dags/{dag_id}/trigger") in found
    assert ("DELETE", "/api/v1/dags/{dag_id}") in found
    assert ("POST", "/users/new") in found
    assert len(found) > 40


def viewer_changes(web: Web) -> list[str]:
    """The state-changing routes that do not refuse a Viewer with a valid CSRF token."""
    viewer = web.client("Viewer")
    allowed = []
    for endpoint in changing(web.app):
        key = (endpoint.method, endpoint.path)
        if key in CHECK_CSRF_THEMSELVES or key in OWN_ACCOUNT:
            continue
        response = _call(viewer, endpoint, viewer.csrf)
        if response.status_code != 403 or "may not do this" not in response.text:
            allowed.append(f"{endpoint.method} {endpoint.path}: {response.status_code}")
    return allowed


def test_a_viewer_can_change_nothing(web: Web) -> None:
    """Every state-changing route needs more than READ: a Viewer with a valid CSRF token
    is refused with 403 before the endpoint runs."""
    assert viewer_changes(web) == []


def test_the_walk_catches_an_unguarded_route(web: Web) -> None:
    """A route that only asks for a logged-in reader is reported (the check works)."""

    @web.app.post("/dags/{dag_id}/forgotten")
    def forgotten(dag_id: str, user: Reader) -> dict[str, str]:
        return {"dag_id": dag_id}

    assert viewer_changes(web) == ["POST /dags/{dag_id}/forgotten: 200"]


def test_every_change_needs_the_csrf_token(web: Web) -> None:
    """Under a session cookie, every state-changing route refuses a request without the
    CSRF token, even for an Admin, and the login and logout forms too."""
    admin = web.client("Admin")
    unchecked = []
    for endpoint in changing(web.app):
        response = _call(admin, endpoint, None)
        if response.status_code != 403 or "CSRF" not in response.text:
            unchecked.append(f"{endpoint.method} {endpoint.path}: {response.status_code}")
    assert unchecked == []


def test_anonymous_requests_change_nothing(web: Web) -> None:
    """Without a login, every state-changing route answers 401 (login and logout aside:
    without a session they fail the CSRF check)."""
    anonymous = web.client()
    passed = []
    for endpoint in changing(web.app):
        if (endpoint.method, endpoint.path) in CHECK_CSRF_THEMSELVES:
            continue
        response = _call(anonymous, endpoint, "made-up")
        if response.status_code != 401:
            passed.append(f"{endpoint.method} {endpoint.path}: {response.status_code}")
    assert passed == []


@pytest.mark.parametrize(("prefix", "least_role"), sorted(GUARDED_READS.items()))
def test_secret_pages_need_their_permission(web: Web, prefix: str, least_role: str) -> None:
    """Variables, connections and the configuration need EDIT_GLOBAL even to read; users
    need MANAGE_USERS: a User (READ and OPERATE_DAGS) is refused every GET under them."""
    user = web.client("User" if least_role == "Op" else "Op")
    gets = [
        e
        for e in endpoints(web.app)
        if e.method == "GET" and (e.path == prefix or e.path.startswith(prefix + "/"))
    ]
    assert gets, prefix
    for endpoint in gets:
        response = user.get(endpoint.url, follow_redirects=False)
        assert response.status_code == 403, (endpoint.path, response.status_code)
