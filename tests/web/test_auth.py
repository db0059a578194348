"""Logging in, sessions, CSRF, basic auth and API tokens, health and version."""

from __future__ import annotations

import os
import stat

import pytest
from tests.web.conftest import PASSWORD, Web

from sluice.api.context import SECRET_KEY_FILE, secret_key
from sluice.store.users import get_user


def test_health_and_version_need_no_login(web: Web) -> None:
    client = web.client()
    health = client.get("/api/v1/health")
    assert health.status_code == 200
    body = health.json()
    assert body["metadatabase"]["status"] == "healthy"
    assert body["scheduler"] == {
        "status": "unhealthy", "latest_heartbeat": None, "detail": "no heartbeat yet"
    }  # fmt: skip
    assert client.get("/api/v1/version").json()["version"]


def test_api_without_credentials_is_401_problem_json(web: Web) -> None:
    response = web.client().get("/api/v1/dags")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Basic")
    assert response.json()["detail"] == "log in first: no valid session, password or API token"


def test_page_without_login_goes_to_the_login_page(web: Web) -> None:
    response = web.client().get("/profile?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/profile%3Fx%3D1"


def test_login_sets_a_signed_http_only_same_site_cookie(web: Web) -> None:
    client = web.client()
    response = client.login("viewer", PASSWORD)
    cookie = response.headers["set-cookie"].lower()
    assert "sluice_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert client.get("/profile").status_code == 200


def test_wrong_password_then_rate_limit(web: Web) -> None:
    client = web.client()
    token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    for _ in range(5):
        page = client.post(
            "/login", data={"username": "viewer", "password": "nope", "csrf_token": token}
        )
        assert page.status_code == 401
        assert "wrong username or password" in page.text
    refused = client.post(
        "/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": token}
    )
    assert refused.status_code == 429
    assert "too many failed logins; try again in" in refused.text


def test_login_form_without_csrf_token_is_refused(web: Web) -> None:
    client = web.client()
    client.get("/login")
    response = client.post("/login", data={"username": "viewer", "password": PASSWORD})
    assert response.status_code == 403
    assert "CSRF token is missing or wrong" in response.text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_login_never_redirects_off_site(web: Web, target: str) -> None:
    client = web.client()
    token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/login",
        data={"username": "viewer", "password": PASSWORD, "csrf_token": token, "next": target},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_logout_needs_the_csrf_token(web: Web) -> None:
    client = web.client("Viewer")
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.submit("/logout").status_code == 303
    assert client.get("/profile", follow_redirects=False).status_code == 303


def test_session_api_call_that_changes_something_needs_the_csrf_header(web: Web) -> None:
    client = web.client("Admin")
    response = client.post("/api/v1/users", json={})
    assert response.status_code == 403
    assert response.json()["title"] == "CSRF check failed"


def test_basic_auth_and_bad_credentials(web: Web) -> None:
    assert web.api("Viewer").get("/api/v1/version").status_code == 200
    bad = web.client().get("/api/v1/importErrors", auth=("viewer", "wrong"))
    assert bad.status_code == 401
    assert bad.json()["detail"] == "wrong username or password"
    garbage = web.client().get("/api/v1/importErrors", headers={"Authorization": "Basic %%%"})
    assert garbage.status_code == 401


def test_api_token_from_the_profile_page(web: Web) -> None:
    client = web.client("User")
    client.submit("/profile/token")
    page = client.get("/profile").text
    token = page.split('id="api-token">')[1].split("<")[0]
    headers = {"Authorization": f"Bearer {token}"}
    assert web.client().get("/api/v1/importErrors", headers=headers).status_code == 200
    # A new token replaces the old one.
    client.submit("/profile/token")
    assert web.client().get("/api/v1/importErrors", headers=headers).status_code == 401
    assert "api-token" in client.get("/profile").text
    assert "api-token" not in client.get("/profile").text  # shown once only


def test_changing_the_password_ends_other_sessions(web: Web) -> None:
    first, second = web.client("Op"), web.client("Op")
    wrong = first.submit("/profile/password", {"current": "bad", "password": "new password 1"})
    assert wrong.status_code == 401
    done = first.submit("/profile/password", {"current": PASSWORD, "password": "new password 1"})
    assert done.status_code == 303
    assert first.get("/profile").status_code == 200
    assert second.get("/profile", follow_redirects=False).status_code == 303


def test_secret_key_is_made_once_and_private(web: Web) -> None:
    path = web.settings.home / SECRET_KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert secret_key(web.settings) == path.read_text().strip()


def test_security_headers(web: Web) -> None:
    response = web.client().get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_basic_auth_on_a_read_writes_nothing(web: Web) -> None:
    # A GET runs in a transaction that only reads; noting a login there would write (and on
    # SQLite could fail with "database is locked" while the scheduler writes).
    assert web.api("Viewer").get("/api/v1/importErrors").status_code == 200
    with web.store.transaction() as session:
        user = get_user(session, "viewer")
        assert user is not None and user.last_login is None
    web.client("Viewer")  # the login form does note it
    with web.store.transaction() as session:
        user = get_user(session, "viewer")
        assert user is not None and user.last_login is not None
