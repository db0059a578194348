"""The OpenAPI document lists every endpoint, each described, and the docs work offline."""

from __future__ import annotations

from tests.web.conftest import Web

API = "/api/v1"
ENDPOINTS = {
    "/health": {"get"},
    "/checks": {"get"},
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/checks": {"get"},
    "/version": {"get"},
    "/dags": {"get"},
    "/dags/{dag_id}": {"get", "patch", "delete"},
    "/dags/{dag_id}/source": {"get"},
    "/dags/{dag_id}/dagRuns": {"get", "post"},
    "/dags/{dag_id}/dagRuns/{dag_run_id}": {"get", "delete"},
    "/dags/{dag_id}/dagRuns/{dag_run_id}/clear": {"post"},
    "/dags/{dag_id}/clearTaskInstances": {"post"},
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances": {"get"},
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}": {"get", "patch"},
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/tries": {"get"},
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}": {"get"},
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries": {"get"},
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/{xcom_key}": {"get"},
    "/variables": {"get", "post"},
    "/variables/import": {"post"},
    "/variables/export": {"get"},
    "/variables/{key}": {"get", "patch", "delete"},
    "/connections": {"get", "post"},
    "/connections/test": {"post"},
    "/connections/{conn_id}": {"get", "patch", "delete"},
    "/pools": {"get", "post"},
    "/pools/{name}": {"get", "patch", "delete"},
    "/importErrors": {"get"},
    "/importErrors/{import_error_id}": {"get"},
    "/users": {"get", "post"},
    "/users/{username}": {"get", "patch", "delete"},
}


def test_every_endpoint_is_in_the_document_and_described(web: Web) -> None:
    spec = web.client().get(f"{API}/openapi.json").json()
    paths = {
        path.removeprefix(API): {m for m in methods if m != "parameters"}
        for path, methods in spec["paths"].items()
    }
    assert paths == ENDPOINTS
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            where = f"{method.upper()} {path}"
            assert operation.get("tags"), where
            assert operation.get("description") or operation.get("summary"), where
            ok = [code for code in operation["responses"] if code.startswith("2")]
            assert ok, where


def test_lists_are_paginated(web: Web) -> None:
    spec = web.client().get(f"{API}/openapi.json").json()
    lists = [
        "/dags", "/dags/{dag_id}/dagRuns", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances",
        "/variables", "/connections", "/pools", "/importErrors", "/users",
    ]  # fmt: skip
    for path in lists:
        names = {p["name"] for p in spec["paths"][f"{API}{path}"]["get"].get("parameters", [])}
        assert {"limit", "offset"} <= names, path


def test_interactive_docs_load_from_this_server(web: Web) -> None:
    client = web.client()
    page = client.get(f"{API}/docs").text
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page
    assert "cdn." not in page and "https://" not in page.split("<body>")[0]
    assert client.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200
