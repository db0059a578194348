"""REST API: variables, connections, pools and users; roles, bad input, secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from tests.web.conftest import Web

from sluice.store.connections import get_connection_secrets
from sluice.store.tables import AuditLog, Connection, User, Variable

SECRET = "s3cr3t-pa55word-xyz"


def audit_events(web: Web) -> list[tuple[str, str | None]]:
    with web.store.transaction() as session:
        rows = session.execute(select(AuditLog.event, AuditLog.extra).order_by(AuditLog.id))
        return [(event, extra) for event, extra in rows]


# --- variables ---------------------------------------------------------------------------


def test_variable_crud_and_audit(web: Web) -> None:
    api = web.api("Op")
    created = api.post(
        "/api/v1/variables", json={"key": "region", "value": "eu", "description": "where"}
    )
    assert created.status_code == 200, created.text
    assert created.json() == {"key": "region", "value": "eu", "description": "where"}
    assert api.get("/api/v1/variables/region").json()["value"] == "eu"
    patched = api.patch("/api/v1/variables/region", json={"value": "us"})
    assert patched.json() == {"key": "region", "value": "us", "description": "where"}
    listed = api.get("/api/v1/variables").json()
    assert listed["total"] == 1 and listed["items"][0]["key"] == "region"
    assert api.delete("/api/v1/variables/region").status_code == 204
    assert api.get("/api/v1/variables/region").status_code == 404
    events = [event for event, _ in audit_events(web)]
    assert events == ["api_variables_create", "api_variables_update", "api_variables_delete"]
    assert all("us" not in (extra or "") for _, extra in audit_events(web))


def test_variable_list_masks_secret_keys_get_one_does_not(web: Web) -> None:
    api = web.api("Admin")
    api.post("/api/v1/variables", json={"key": "db_password", "value": SECRET})
    api.post("/api/v1/variables", json={"key": "plain", "value": "visible"})
    items = {i["key"]: i["value"] for i in api.get("/api/v1/variables").json()["items"]}
    assert items == {"db_password": "***", "plain": "visible"}
    assert api.get("/api/v1/variables/db_password").json()["value"] == SECRET


def test_variable_search_and_pagination(web: Web) -> None:
    api = web.api("Admin")
    for i in range(5):
        api.post("/api/v1/variables", json={"key": f"k{i}", "value": str(i)})
    api.post("/api/v1/variables", json={"key": "other_%", "value": "x"})
    page = api.get("/api/v1/variables?limit=2&offset=2").json()
    assert page["total"] == 6 and [i["key"] for i in page["items"]] == ["k2", "k3"]
    assert api.get("/api/v1/variables?search=k").json()["total"] == 5
    assert [i["key"] for i in api.get("/api/v1/variables?search=%25").json()["items"]] == [
        "other_%"
    ]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "a variable key cannot be empty"),
        (" padded", "starts or ends with whitespace"),
        ("x" * 251, "the most is 250"),
    ],
)
def test_bad_variable_key_is_400(web: Web, key: str, message: str) -> None:
    response = web.api("Admin").post("/api/v1/variables", json={"key": key, "value": "v"})
    assert response.status_code == 400
    assert message in response.json()["detail"]
    with web.store.transaction() as session:
        assert session.scalars(select(Variable)).all() == []


def test_duplicate_variable_is_409(web: Web) -> None:
    api = web.api("Admin")
    api.post("/api/v1/variables", json={"key": "a", "value": "1"})
    again = api.post("/api/v1/variables", json={"key": "a", "value": "2"})
    assert again.status_code == 409
    assert again.json()["detail"] == "variable 'a' already exists; change it with PATCH"
    assert api.get("/api/v1/variables/a").json()["value"] == "1"


def test_variable_import_and_export_round_trip(web: Web) -> None:
    api = web.api("Admin")
    api.post("/api/v1/variables", json={"key": "old", "value": "before"})
    body = {
        "old": "after",
        "count": 3,
        "config": {"a": [1, 2]},
        "described": {"value": "v", "description": "a note"},
    }
    result = api.post("/api/v1/variables/import", json=body)
    assert result.status_code == 200, result.text
    assert result.json() == {
        "created": ["count", "config", "described"],
        "updated": ["old"],
        "skipped": [],
    }
    exported = api.get("/api/v1/variables/export").json()
    assert exported == {
        "config": '{"a": [1, 2]}',
        "count": "3",
        "described": {"value": "v", "description": "a note"},
        "old": "after",
    }
    skipped = api.post("/api/v1/variables/import?on_existing=skip", json={"old": "x"}).json()
    assert skipped["skipped"] == ["old"]
    assert api.get("/api/v1/variables/old").json()["value"] == "after"


def test_variable_import_is_all_or_nothing(web: Web) -> None:
    api = web.api("Admin")
    response = api.post("/api/v1/variables/import", json={"good": "1", " bad": "2"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("nothing was imported: variable key ' bad'")
    assert api.get("/api/v1/variables").json()["total"] == 0
    not_object = api.post("/api/v1/variables/import", json=[1, 2])
    assert not_object.status_code == 400
    assert "JSON object of key: value, not an array" in not_object.json()["detail"]
    api.post("/api/v1/variables", json={"key": "taken", "value": "1"})
    fail = api.post("/api/v1/variables/import?on_existing=fail", json={"new": "1", "taken": "2"})
    assert fail.status_code == 400
    assert "exist already: taken" in fail.json()["detail"]
    assert api.get("/api/v1/variables").json()["total"] == 1


# --- connections -------------------------------------------------------------------------

CONN = {
    "conn_id": "warehouse",
    "conn_type": "postgres",
    "host": "db.example",
    "schema": "dw",
    "login": "etl",
    "port": 5432,
    "password": SECRET,
    "extra": '{"sslmode": "require", "api_token": "tok-123"}',
}


def test_connection_crud_never_returns_the_password(web: Web) -> None:
    api = web.api("Op")
    created = api.post("/api/v1/connections", json=CONN)
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["password_set"] is True and "password" not in body
    assert body["schema"] == "dw" and body["port"] == 5432
    assert json.loads(body["extra"]) == {"sslmode": "require", "api_token": "***"}
    for response in (
        created,
        api.get("/api/v1/connections"),
        api.get("/api/v1/connections/warehouse"),
        api.patch("/api/v1/connections/warehouse", json={"host": "db2.example"}),
    ):
        assert SECRET not in response.text and "tok-123" not in response.text
    with web.store.transaction() as session:
        row = session.scalars(select(Connection)).one()
        assert row.password != SECRET and row.is_encrypted  # encrypted at rest
        secrets = get_connection_secrets(session, "warehouse")
        assert secrets is not None
        assert secrets.password == SECRET and secrets.host == "db2.example"
        assert json.loads(secrets.extra or "")["api_token"] == "tok-123"
    assert all(SECRET not in (extra or "") for _, extra in audit_events(web))


def test_connection_patch_password_rules(web: Web) -> None:
    api = web.api("Admin")
    api.post("/api/v1/connections", json=CONN)

    def stored() -> tuple[str | None, str | None]:
        with web.store.transaction() as session:
            secrets = get_connection_secrets(session, "warehouse")
            assert secrets is not None
            return secrets.password, secrets.extra

    api.patch("/api/v1/connections/warehouse", json={"password": "", "login": "x"})
    assert stored()[0] == SECRET
    # The masked extra sent back keeps the stored secret; a new field is added.
    masked = api.get("/api/v1/connections/warehouse").json()["extra"]
    changed = {**json.loads(masked), "timeout": 3}
    api.patch("/api/v1/connections/warehouse", json={"extra": changed})
    assert json.loads(stored()[1] or "") == {
        "sslmode": "require",
        "api_token": "tok-123",
        "timeout": 3,
    }
    api.patch("/api/v1/connections/warehouse", json={"password": "new-one"})
    assert stored()[0] == "new-one"
    cleared = api.patch("/api/v1/connections/warehouse", json={"clear_password": True})
    assert cleared.json()["password_set"] is False and stored()[0] is None


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"conn_id": "bad id!"}, 400, "may hold only letters, digits, '_', '.' and '-'"),
        ({"conn_id": ""}, 400, "a conn_id cannot be empty"),
        ({"extra": "{not json"}, 400, "extra is not valid JSON"),
        ({"extra": "[1, 2]"}, 400, "extra must be a JSON object"),
        ({"port": 70000}, 400, "port must be a number from 1 to 65535"),
        ({"conn_type": ""}, 400, "conn_type cannot be empty"),
        ({"surprise": 1}, 422, "surprise"),
    ],
)
def test_bad_connection_is_refused(
    web: Web, change: dict[str, Any], status: int, message: str
) -> None:
    response = web.api("Admin").post("/api/v1/connections", json={**CONN, **change})
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    with web.store.transaction() as session:
        assert session.scalars(select(Connection)).all() == []


def test_duplicate_connection_is_409_and_unknown_is_404(web: Web) -> None:
    api = web.api("Admin")
    api.post("/api/v1/connections", json=CONN)
    again = api.post("/api/v1/connections", json={**CONN, "host": "other"})
    assert again.status_code == 409
    assert "connection 'warehouse' already exists" in again.json()["detail"]
    assert api.get("/api/v1/connections/warehouse").json()["host"] == "db.example"
    assert api.get("/api/v1/connections/nope").status_code == 404
    assert api.patch("/api/v1/connections/nope", json={"host": "h"}).status_code == 404
    assert api.delete("/api/v1/connections/nope").status_code == 404
    assert api.delete("/api/v1/connections/warehouse").status_code == 204


def test_connection_test_endpoint_reports_unsupported_types(web: Web) -> None:
    api = web.api("Admin")
    api.post("/api/v1/connections", json={"conn_id": "s", "conn_type": "slack"})
    response = api.post("/api/v1/connections/test", json={"conn_id": "s"})
    assert response.json() == {
        "status": False,
        "message": "testing is not supported for conn type 'slack'",
    }
    missing = api.post("/api/v1/connections/test", json={"conn_id": "nope"})
    assert missing.status_code == 404


# --- pools -------------------------------------------------------------------------------


def test_pool_crud(web: Web) -> None:
    api = web.api("Op")
    created = api.post("/api/v1/pools", json={"name": "etl", "slots": 4, "description": "d"})
    assert created.status_code == 200, created.text
    assert created.json() == {
        "name": "etl", "slots": 4, "description": "d", "occupied_slots": 0,
        "running_slots": 0, "queued_slots": 0, "scheduled_slots": 0, "open_slots": 4,
    }  # fmt: skip
    assert api.patch("/api/v1/pools/etl", json={"slots": 2}).json()["open_slots"] == 2
    listed = api.get("/api/v1/pools").json()
    assert [p["name"] for p in listed["items"]] == ["default_pool", "etl"]
    assert listed["total"] == 2
    assert api.delete("/api/v1/pools/etl").status_code == 204
    assert api.get("/api/v1/pools/etl").status_code == 404
    assert [e for e, _ in audit_events(web)] == [
        "api_pools_create", "api_pools_update", "api_pools_delete",
    ]  # fmt: skip


def test_pool_bad_input(web: Web) -> None:
    api = web.api("Admin")
    negative = api.post("/api/v1/pools", json={"name": "p", "slots": -1})
    assert negative.status_code == 400
    assert "slots must be a whole number of 0 or more, not -1" in negative.json()["detail"]
    bad_name = api.post("/api/v1/pools", json={"name": "a b", "slots": 1})
    assert bad_name.status_code == 400 and "may hold only letters" in bad_name.json()["detail"]
    taken = api.post("/api/v1/pools", json={"name": "default_pool", "slots": 1})
    assert taken.status_code == 409
    default = api.delete("/api/v1/pools/default_pool")
    assert default.status_code == 400
    assert "default_pool cannot be deleted" in default.json()["detail"]
    pools = api.get("/api/v1/pools").json()["items"]
    assert [(p["name"], p["slots"]) for p in pools] == [("default_pool", 128)]


def test_viewer_reads_pools_but_cannot_change_them(web: Web) -> None:
    api = web.api("Viewer")
    assert api.get("/api/v1/pools").status_code == 200
    assert api.post("/api/v1/pools", json={"name": "p", "slots": 1}).status_code == 403
    assert api.patch("/api/v1/pools/default_pool", json={"slots": 1}).status_code == 403
    assert api.delete("/api/v1/pools/default_pool").status_code == 403


# --- roles -------------------------------------------------------------------------------


GLOBAL_CALLS: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/variables", None),
    ("POST", "/api/v1/variables", {"key": "k", "value": "v"}),
    ("PATCH", "/api/v1/variables/k", {"value": "v"}),
    ("DELETE", "/api/v1/variables/k", None),
    ("POST", "/api/v1/variables/import", {"k": "v"}),
    ("GET", "/api/v1/variables/export", None),
    ("GET", "/api/v1/connections", None),
    ("POST", "/api/v1/connections", CONN),
    ("PATCH", "/api/v1/connections/warehouse", {"host": "h"}),
    ("DELETE", "/api/v1/connections/warehouse", None),
    ("POST", "/api/v1/connections/test", {"conn_id": "warehouse"}),
    ("POST", "/api/v1/pools", {"name": "p", "slots": 1}),
    ("GET", "/api/v1/users", None),
]


@pytest.mark.parametrize("role", ["Viewer", "User"])
def test_viewer_and_user_may_not_touch_global_things(web: Web, role: str) -> None:
    api = web.api(role)
    for method, url, body in GLOBAL_CALLS:
        response = api.request(method, url, json=body)
        assert response.status_code == 403, (method, url)
        assert f"(role {role}) may not do this" in response.json()["detail"]


def test_op_cannot_manage_users(web: Web) -> None:
    api = web.api("Op")
    assert api.get("/api/v1/users").status_code == 403
    body = {"username": "new", "password": "long enough", "role": "Admin"}
    assert api.post("/api/v1/users", json=body).status_code == 403
    assert api.patch("/api/v1/users/op", json={"role": "Admin"}).status_code == 403


def test_session_api_call_needs_the_csrf_header(web: Web) -> None:
    client = web.client("Admin")
    refused = client.post("/api/v1/variables", json={"key": "k", "value": "v"})
    assert refused.status_code == 403
    assert "CSRF token is missing or wrong" in refused.json()["detail"]
    accepted = client.call("POST", "/api/v1/variables", json={"key": "k", "value": "v"})
    assert accepted.status_code == 200


# --- users -------------------------------------------------------------------------------


def test_user_crud_without_secrets(web: Web) -> None:
    api = web.api("Admin")
    body = {"username": "ann", "password": "long enough", "role": "op", "email": "a@x.io"}
    created = api.post("/api/v1/users", json=body)
    assert created.status_code == 200, created.text
    assert created.json()["role"] == "Op" and created.json()["active"] is True
    listed = api.get("/api/v1/users")
    assert listed.json()["total"] == 5
    assert "password" not in listed.text and "hash" not in listed.text
    patched = api.patch("/api/v1/users/ann", json={"role": "Viewer", "active": False})
    assert patched.json()["role"] == "Viewer" and patched.json()["active"] is False
    assert api.delete("/api/v1/users/ann").status_code == 204
    assert api.get("/api/v1/users/ann").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"username": "x", "password": "short", "role": "Op"}, 400, "at least 8 characters"),
        ({"username": "x", "password": "long enough", "role": "Boss"}, 400, "unknown role"),
        ({"username": "a b", "password": "long enough", "role": "Op"}, 400, "must be 1 to 256"),
        ({"username": "viewer", "password": "long enough", "role": "Op"}, 409, "already exists"),
    ],
)
def test_bad_user_is_refused(web: Web, body: dict[str, Any], status: int, message: str) -> None:
    response = web.api("Admin").post("/api/v1/users", json=body)
    assert response.status_code == status
    assert message in response.json()["detail"]
    with web.store.transaction() as session:
        assert len(session.scalars(select(User)).all()) == 4


def test_last_admin_stays(web: Web) -> None:
    api = web.api("Admin")
    demote = api.patch("/api/v1/users/admin", json={"role": "Op"})
    assert demote.status_code == 400
    assert "is the last active Admin" in demote.json()["detail"]
    deleted = api.delete("/api/v1/users/admin")
    assert deleted.status_code == 400 and "is the last Admin" in deleted.json()["detail"]
    assert api.get("/api/v1/users/admin").json()["role"] == "Admin"


def test_openapi_lists_the_admin_endpoints(web: Web) -> None:
    paths = web.client().get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/variables",
        "/api/v1/variables/{key}",
        "/api/v1/variables/import",
        "/api/v1/connections/{conn_id}",
        "/api/v1/connections/test",
        "/api/v1/pools/{name}",
        "/api/v1/users/{username}",
    ):
        assert path in paths, path
