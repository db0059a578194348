"""REST API: /dags/{dag_id}/dagRuns (list, get, trigger, delete, clear)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from tests.cli_db.helpers import (
    add_dag,
    add_run,
    audit_events,
    chain_dag,
    finish,
    move_run,
    move_ti,
    run_state,
    ti_states,
)
from tests.web.conftest import Web

from sluice import Param
from sluice.store.engine import Store
from sluice.store.tables import DagRun, TaskInstance

DAY = datetime(2024, 1, 1, tzinfo=UTC)


def run_count(store: Store) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(DagRun)) or 0)


def params_dag() -> object:
    return chain_dag(
        "etl",
        params={
            "n": Param(3, type="integer", minimum=1, description="How many."),
            "who": Param("me", type="string"),
        },
    )


def test_trigger_with_conf(web: Web) -> None:
    add_dag(web.store, params_dag())  # type: ignore[arg-type]
    api = web.api("User")
    response = api.post(
        "/api/v1/dags/etl/dagRuns",
        json={"conf": {"n": 5}, "logical_date": "2024-02-01T06:00:00Z", "dag_run_id": "mine",
              "note": "by hand"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dag_run_id"] == "mine"
    assert body["conf"] == {"n": 5}
    assert body["state"] == "queued" and body["run_type"] == "manual"
    assert body["logical_date"].startswith("2024-02-01T06:00:00")
    assert audit_events(web.store) == [("api_dags_trigger", "etl"), ("api_dag_runs_note", "etl")]
    default = api.post("/api/v1/dags/etl/dagRuns", json={}).json()
    assert default["dag_run_id"].startswith("manual__")


def test_trigger_refusals_change_nothing(web: Web) -> None:
    add_dag(web.store, params_dag())  # type: ignore[arg-type]
    api = web.api("Op")
    bad_conf = api.post("/api/v1/dags/etl/dagRuns", json={"conf": {"n": 0}})
    assert bad_conf.status_code == 400
    assert bad_conf.json()["detail"] == (
        "conf does not fit the params of DAG 'etl': param 'n': 0 is less than the minimum of 1"
    )
    not_object = api.post("/api/v1/dags/etl/dagRuns", json={"conf": [1, 2]})
    assert not_object.status_code == 422
    assert not_object.json()["errors"][0]["field"] == "conf"
    naive = api.post("/api/v1/dags/etl/dagRuns", json={"logical_date": "2024-02-01T06:00:00"})
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "logical_date"
    bad_id = api.post("/api/v1/dags/etl/dagRuns", json={"dag_run_id": "a b/c"})
    assert bad_id.status_code == 400
    assert "may hold only letters, digits" in bad_id.json()["detail"]
    unknown = api.post("/api/v1/dags/nope/dagRuns", json={})
    assert unknown.status_code == 404
    assert run_count(web.store) == 0

    assert api.post("/api/v1/dags/etl/dagRuns", json={"dag_run_id": "r1"}).status_code == 200
    clash = api.post("/api/v1/dags/etl/dagRuns", json={"dag_run_id": "r1"})
    assert clash.status_code == 409
    assert "already has a run with run id 'r1'" in clash.json()["detail"]
    assert run_count(web.store) == 1

    viewer = web.api("Viewer").post("/api/v1/dags/etl/dagRuns", json={})
    assert viewer.status_code == 403
    assert run_count(web.store) == 1


def test_list_runs_with_filters_and_pages(web: Web) -> None:
    etl = add_dag(web.store, chain_dag("etl"))
    other = add_dag(web.store, chain_dag("other"))
    for day in range(3):
        add_run(web.store, etl, DAY + timedelta(days=day))
    finish(web.store, "etl", add_run(web.store, etl, DAY + timedelta(days=5), run_type="manual",
                                     run_id="hand"), "failed")  # fmt: skip
    add_run(web.store, other, DAY + timedelta(days=1))
    api = web.api("Viewer")

    def run_ids(dag_id: str = "etl", **params: object) -> list[str]:
        response = api.get(f"/api/v1/dags/{dag_id}/dagRuns", params=params)
        assert response.status_code == 200, response.text
        return [f"{r['dag_id']}:{r['dag_run_id'][:22]}" for r in response.json()["items"]]

    assert run_ids()[0] == "etl:hand"
    assert len(run_ids()) == 4
    assert run_ids(state="failed") == ["etl:hand"]
    assert run_ids(run_type="scheduled", logical_date_gte="2024-01-02T00:00:00Z") == [
        "etl:scheduled__2024-01-03T",
        "etl:scheduled__2024-01-02T",
    ]
    # Newest first; at one logical date, the run created last first.
    assert run_ids("~", logical_date_lte="2024-01-02T00:00:00+00:00") == [
        "other:scheduled__2024-01-02T",
        "etl:scheduled__2024-01-02T",
        "etl:scheduled__2024-01-01T",
    ]
    page = api.get("/api/v1/dags/~/dagRuns", params={"limit": 2}).json()
    assert (page["total"], len(page["items"])) == (5, 2)

    bad_state = api.get("/api/v1/dags/etl/dagRuns", params={"state": "done"})
    assert bad_state.status_code == 422
    later, earlier = "2024-02-01T00:00:00Z", "2024-01-01T00:00:00Z"
    upside_down = api.get(
        "/api/v1/dags/etl/dagRuns",
        params={"logical_date_gte": later, "logical_date_lte": earlier},
    )
    assert upside_down.status_code == 400
    assert "is before logical_date_gte" in upside_down.json()["detail"]
    assert api.get("/api/v1/dags/nope/dagRuns").status_code == 404

    one = api.get("/api/v1/dags/etl/dagRuns/hand").json()
    assert one["state"] == "failed" and one["duration"] is not None
    missing = api.get("/api/v1/dags/etl/dagRuns/hnad")
    assert missing.status_code == 404
    assert "hand" in missing.json()["detail"]


def test_delete_run(web: Web) -> None:
    etl = add_dag(web.store, chain_dag("etl"))
    done = add_run(web.store, etl, DAY)
    finish(web.store, "etl", done)
    busy = add_run(web.store, etl, DAY + timedelta(days=1))
    move_run(web.store, "etl", busy, "running")
    move_ti(web.store, "etl", busy, "extract", "running")

    assert web.api("Viewer").delete(f"/api/v1/dags/etl/dagRuns/{done}").status_code == 403
    api = web.api("User")
    assert api.delete(f"/api/v1/dags/etl/dagRuns/{done}").status_code == 204
    assert api.get(f"/api/v1/dags/etl/dagRuns/{done}").status_code == 404
    assert ti_states(web.store, "etl", done) == {}
    refused = api.delete(f"/api/v1/dags/etl/dagRuns/{busy}")
    assert refused.status_code == 409
    assert "has running task instances (such as 'extract')" in refused.json()["detail"]
    assert run_state(web.store, "etl", busy) == "running"
    assert audit_events(web.store) == [("api_dag_runs_delete", "etl")]


def test_clear_run_dry_run_then_failed_only(web: Web) -> None:
    etl = add_dag(web.store, chain_dag("etl"))
    run_id = add_run(web.store, etl, DAY)
    move_ti(web.store, "etl", run_id, "extract", "success")
    move_ti(web.store, "etl", run_id, "transform", "failed")
    move_ti(web.store, "etl", run_id, "load", "upstream_failed")
    move_run(web.store, "etl", run_id, "failed")
    url = f"/api/v1/dags/etl/dagRuns/{run_id}/clear"

    assert web.api("Viewer").post(url, json={"dry_run": False}).status_code == 403
    api = web.api("User")
    dry = api.post(url, json={}).json()
    assert dry["dry_run"] is True
    assert [(t["task_id"], t["state"]) for t in dry["task_instances"]] == [
        ("extract", "success"), ("load", "upstream_failed"), ("transform", "failed")
    ]  # fmt: skip
    assert ti_states(web.store, "etl", run_id)["extract"] == "success"

    done = api.post(url, json={"dry_run": False, "only_failed": True}).json()
    assert done["total"] == 2
    assert {t["task_id"] for t in done["task_instances"]} == {"transform", "load"}
    assert ti_states(web.store, "etl", run_id) == {
        "extract": "success", "transform": None, "load": None
    }  # fmt: skip
    assert run_state(web.store, "etl", run_id) == "queued"
    assert ("api_tasks_clear", "etl") in audit_events(web.store)
    missing = api.post("/api/v1/dags/etl/dagRuns/nope/clear", json={})
    assert missing.status_code == 404


def test_run_conf_in_the_api_is_the_json_object(web: Web) -> None:
    add_dag(web.store, chain_dag("etl"))
    api = web.api("Op")
    conf = {"html": "<script>alert(1)</script>", "nested": {"a": [1, 2]}}
    api.post("/api/v1/dags/etl/dagRuns", json={"conf": conf, "dag_run_id": "x"})
    assert api.get("/api/v1/dags/etl/dagRuns/x").json()["conf"] == conf
    with web.store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(TaskInstance)) == 3
