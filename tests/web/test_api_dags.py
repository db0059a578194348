"""REST API: /dags (list with filters, one DAG, pause/unpause with the catchup guard,
delete, source) and /importErrors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update
from tests.cli_db.helpers import add_dag, add_run, audit_events, chain_dag, finish, move_ti
from tests.web.conftest import Web

from sluice import Param
from sluice.store.engine import Store
from sluice.store.tables import Dag, ImportErrorRow


def describe(store: Store, dag_id: str, **values: Any) -> None:
    """Set dag row fields the DAG processor writes (add_dag leaves them empty)."""
    if "tags" in values:
        values["tags"] = json.dumps(values["tags"])
    with store.transaction() as session:
        session.execute(update(Dag).where(Dag.dag_id == dag_id).values(**values))


def is_paused(store: Store, dag_id: str) -> bool:
    with store.transaction() as session:
        dag = session.get(Dag, dag_id)
        assert dag is not None
        return dag.is_paused


def test_list_filters_and_paginates(web: Web) -> None:
    for dag_id, tags, owners, paused in [
        ("alpha_etl", ["etl", "daily"], "ann", False),
        ("beta_etl", ["etl"], "bob, carl", True),
        ("gamma", ["report"], "carl", False),
    ]:
        add_dag(web.store, chain_dag(dag_id), paused=paused)
        describe(web.store, dag_id, tags=tags, owners=owners)
    add_dag(web.store, chain_dag("gone"), active=False)
    serialized = add_dag(web.store, chain_dag("delta"))
    finish(web.store, "delta", add_run(web.store, serialized, datetime(2024, 1, 1, tzinfo=UTC)),
           "failed")  # fmt: skip
    api = web.api("Viewer")

    def ids(**params: Any) -> list[str]:
        response = api.get("/api/v1/dags", params=params)
        assert response.status_code == 200, response.text
        return [item["dag_id"] for item in response.json()["items"]]

    assert ids() == ["alpha_etl", "beta_etl", "delta", "gamma"]
    assert ids(only_active="false") == ["alpha_etl", "beta_etl", "delta", "gamma", "gone"]
    assert ids(dag_id_pattern="ETL") == ["alpha_etl", "beta_etl"]
    assert ids(dag_id_pattern="%") == []  # a LIKE wildcard is a plain character
    assert ids(tags="etl") == ["alpha_etl", "beta_etl"]
    assert ids(tags=["daily", "report"]) == ["alpha_etl", "gamma"]
    assert ids(owners="carl") == ["beta_etl", "gamma"]
    assert ids(owners="car") == []
    assert ids(paused="true") == ["beta_etl"]
    assert ids(last_dag_run_state="failed") == ["delta"]
    assert ids(last_dag_run_state="success") == []

    page = api.get("/api/v1/dags", params={"limit": 2, "offset": 1}).json()
    assert [d["dag_id"] for d in page["items"]] == ["beta_etl", "delta"]
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)
    item = api.get("/api/v1/dags", params={"dag_id_pattern": "beta"}).json()["items"][0]
    assert item["owners"] == ["bob", "carl"]
    assert item["tags"] == [{"name": "etl"}]
    assert item["is_paused"] is True

    bad = api.get("/api/v1/dags", params={"last_dag_run_state": "nope", "limit": 0})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"last_dag_run_state", "limit"}


def test_get_dag_has_the_serialized_settings(web: Web) -> None:
    dag = chain_dag(
        "etl",
        params={"n": Param(3, type="integer", minimum=1, description="How many.")},
        doc_md="# ETL",
    )
    add_dag(web.store, dag)
    body = web.api("Viewer").get("/api/v1/dags/etl").json()
    assert body["schedule"] == "@daily"
    assert body["timetable"] and body["timezone"] == "UTC"
    assert body["catchup"] is False
    assert body["doc_md"] == "# ETL"
    assert body["params"]["n"]["default"] == 3
    assert body["params"]["n"]["schema"] == {"type": "integer", "minimum": 1}
    assert body["default_args"] == {"retries": 0}
    assert body["task_ids"] == ["extract", "transform", "load"]
    assert body["start_date"].startswith("2024-01-01T00:00:00")

    with web.store.transaction() as session:  # a DAG whose file failed to import
        session.add(Dag(dag_id="broken", fileloc="/dags/broken.py", has_import_errors=True))
    broken = web.api("Viewer").get("/api/v1/dags/broken").json()
    assert broken["has_import_errors"] is True
    assert broken["params"] is None and broken["task_ids"] is None

    missing = web.api("Viewer").get("/api/v1/dags/etk")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert "DAG 'etk' not found" in missing.json()["detail"]


def test_pause_and_unpause(web: Web) -> None:
    add_dag(web.store, chain_dag("etl"), paused=True)
    api = web.api("User")
    response = api.patch("/api/v1/dags/etl", json={"is_paused": False})
    assert response.status_code == 200, response.text
    assert response.json()["is_paused"] is False
    assert not is_paused(web.store, "etl")
    assert api.patch("/api/v1/dags/etl", json={"is_paused": True}).json()["is_paused"] is True
    assert is_paused(web.store, "etl")
    events = [event for event, _ in audit_events(web.store)]
    assert events == ["api_dags_unpause", "api_dags_pause"]

    bad = api.patch("/api/v1/dags/etl", json={"is_paused": "maybe"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "is_paused"
    extra = api.patch("/api/v1/dags/etl", json={"is_paused": False, "owners": "me"})
    assert extra.status_code == 422
    assert is_paused(web.store, "etl")


def test_unpause_catchup_guard_needs_confirm(web: Web) -> None:
    old = chain_dag("old", catchup=True, start=datetime(2020, 1, 1, tzinfo=UTC))
    add_dag(web.store, old, paused=True)
    api = web.api("Op")
    refused = api.patch("/api/v1/dags/old", json={"is_paused": False})
    assert refused.status_code == 409
    body = refused.json()
    assert body["catchup_runs"] > 50
    assert body["catchup_summary"].startswith("more than")
    assert "logical dates 2020-01-01T00:00:00+00:00 to" in body["detail"]
    assert "?confirm=true" in body["detail"]
    assert is_paused(web.store, "old")
    assert audit_events(web.store) == []

    done = api.patch("/api/v1/dags/old", params={"confirm": "true"}, json={"is_paused": False})
    assert done.status_code == 200
    assert not is_paused(web.store, "old")


def test_viewer_cannot_pause_or_delete(web: Web) -> None:
    add_dag(web.store, chain_dag("etl"), paused=True)
    api = web.api("Viewer")
    for response in (
        api.patch("/api/v1/dags/etl", json={"is_paused": False}),
        api.delete("/api/v1/dags/etl"),
    ):
        assert response.status_code == 403
        assert (
            "a role is needed to trigger, clear, mark, pause or delete" in response.json()["detail"]
        )
    assert is_paused(web.store, "etl")
    assert web.api("Viewer").get("/api/v1/dags/etl").status_code == 200


def test_session_patch_without_csrf_is_refused(web: Web) -> None:
    add_dag(web.store, chain_dag("etl"), paused=True)
    client = web.client("Op")
    refused = client.patch("/api/v1/dags/etl", json={"is_paused": False})
    assert refused.status_code == 403
    assert "CSRF token is missing or wrong" in refused.json()["detail"]
    assert is_paused(web.store, "etl")
    ok = client.call("PATCH", "/api/v1/dags/etl", json={"is_paused": False})
    assert ok.status_code == 200
    assert not is_paused(web.store, "etl")


def test_delete_dag(web: Web) -> None:
    serialized = add_dag(web.store, chain_dag("etl"))
    add_run(web.store, serialized, datetime(2024, 1, 1, tzinfo=UTC))
    api = web.api("User")
    assert api.delete("/api/v1/dags/etl").status_code == 204
    assert api.get("/api/v1/dags/etl").status_code == 404
    assert audit_events(web.store) == [("api_dags_delete", "etl")]
    assert api.delete("/api/v1/dags/etl").status_code == 404

    busy = add_dag(web.store, chain_dag("busy"))
    run_id = add_run(web.store, busy, datetime(2024, 1, 1, tzinfo=UTC))
    move_ti(web.store, "busy", run_id, "extract", "running")
    refused = api.delete("/api/v1/dags/busy")
    assert refused.status_code == 409
    assert "has running task instances (such as 'extract')" in refused.json()["detail"]
    assert api.get("/api/v1/dags/busy").status_code == 200


def test_source_reads_the_parsed_file_and_says_when_it_is_gone(web: Web, tmp_path: Path) -> None:
    path = tmp_path / "etl_dag.py"
    path.write_text("# the DAG file\nprint('<b>')\n")
    add_dag(web.store, chain_dag("etl"), fileloc=str(path))
    api = web.api("Viewer")
    body = api.get("/api/v1/dags/etl/source").json()
    assert body == {
        "dag_id": "etl", "fileloc": str(path), "content": "# the DAG file\nprint('<b>')\n"
    }  # fmt: skip
    path.unlink()
    gone = api.get("/api/v1/dags/etl/source")
    assert gone.status_code == 404
    assert gone.json()["detail"] == (
        f"the file of DAG 'etl', {path}, is gone: it was deleted or moved since the DAG"
        " processor parsed it"
    )


def test_import_errors(web: Web) -> None:
    stamp = datetime(2024, 5, 1, tzinfo=UTC)
    with web.store.transaction() as session:
        for name in ("b.py", "a.py"):
            session.add(
                ImportErrorRow(
                    filename=f"/dags/{name}", path_hash=name, line=3, message="SyntaxError",
                    stacktrace="Traceback ...", timestamp=stamp,
                )
            )  # fmt: skip
    api = web.api("Viewer")
    page = api.get("/api/v1/importErrors", params={"limit": 1}).json()
    assert page["total"] == 2
    first = page["items"][0]
    assert first["filename"] == "/dags/a.py"
    assert first["line"] == 3 and first["stack_trace"] == "Traceback ..."
    one = api.get(f"/api/v1/importErrors/{first['import_error_id']}").json()
    assert one == first
    missing = api.get("/api/v1/importErrors/999999")
    assert missing.status_code == 404
    assert "no import error with id 999999" in missing.json()["detail"]
