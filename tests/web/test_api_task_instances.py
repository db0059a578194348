"""REST API: task instances: lists with filters, one instance, tries, clear, set state."""

from __future__ import annotations

from tests.cli_db.helpers import audit_events, move_ti, run_state, ti_states
from tests.web.conftest import Web
from tests.web.ti_helpers import DAY2, add_try, seed, ti_state

API = "/api/v1"


def test_list_of_one_run_by_task_id(web: Web) -> None:
    seeded = seed(web)
    body = web.api("Viewer").get(f"{API}/dags/etl/dagRuns/{seeded.bad}/taskInstances").json()
    assert body["total"] == 3 and body["limit"] == 100 and body["offset"] == 0
    assert [(i["task_id"], i["state"]) for i in body["items"]] == [
        ("extract", "success"), ("load", "upstream_failed"), ("transform", "failed"),
    ]  # fmt: skip
    first = body["items"][0]
    assert first["dag_id"] == "etl" and first["dag_run_id"] == seeded.bad
    assert first["map_index"] == -1 and first["try_number"] == 1 and first["max_tries"] == 1
    assert first["logical_date"].startswith("2024-01-02T00:00:00")


def test_cross_dag_list_newest_first_with_filters_and_pages(web: Web) -> None:
    seeded = seed(web)
    client = web.api("Viewer")
    every = client.get(f"{API}/dags/~/dagRuns/~/taskInstances").json()
    assert every["total"] == 10  # 3 + 3 etl, numbers + 3 map indexes of double
    ids = [(i["dag_id"], i["task_id"], i["map_index"]) for i in every["items"]]
    assert ids[:3] == [("mapped", "double", 2), ("mapped", "double", 1), ("mapped", "double", 0)]
    page = client.get(f"{API}/dags/~/dagRuns/~/taskInstances?limit=4&offset=4").json()
    assert page["total"] == 10 and len(page["items"]) == 4
    assert [(i["dag_id"], i["task_id"], i["map_index"]) for i in page["items"]] == ids[4:8]

    failed = client.get(f"{API}/dags/~/dagRuns/~/taskInstances?state=failed&state=upstream_failed")
    assert [i["task_id"] for i in failed.json()["items"]] == ["load", "transform"]
    none = client.get(f"{API}/dags/~/dagRuns/~/taskInstances?state=none").json()
    assert {i["dag_id"] for i in none["items"]} == {"mapped"} and none["total"] == 4
    by_dag = client.get(f"{API}/dags/~/dagRuns/~/taskInstances?dag_ids=etl&task_id=load").json()
    assert [(i["dag_run_id"], i["state"]) for i in by_dag["items"]] == [
        (seeded.bad, "upstream_failed"), (seeded.good, "success"),
    ]  # fmt: skip
    day2 = client.get(
        f"{API}/dags/~/dagRuns/~/taskInstances",
        params={"logical_date_gte": DAY2.isoformat(), "limit": 1},
    ).json()
    assert day2["total"] == 3 and day2["items"][0]["dag_run_id"] == seeded.bad
    one_dag = client.get(f"{API}/dags/etl/dagRuns/~/taskInstances?state=success").json()
    assert one_dag["total"] == 4
    started = client.get(
        f"{API}/dags/~/dagRuns/~/taskInstances", params={"start_date_gte": "2100-01-01T00:00Z"}
    ).json()
    assert started["total"] == 0


def test_list_bad_input(web: Web) -> None:
    seeded = seed(web)
    client = web.api("Viewer")
    bad_state = client.get(f"{API}/dags/~/dagRuns/~/taskInstances?state=exploded")
    assert bad_state.status_code == 400
    assert "unknown state 'exploded'" in bad_state.json()["detail"]
    missing_dag = client.get(f"{API}/dags/nope/dagRuns/~/taskInstances")
    assert missing_dag.status_code == 404 and "'nope'" in missing_dag.json()["detail"]
    missing_run = client.get(f"{API}/dags/etl/dagRuns/nope/taskInstances")
    assert missing_run.status_code == 404 and "Run 'nope' not found" in missing_run.json()["detail"]
    assert client.get(f"{API}/dags/~/dagRuns/{seeded.bad}/taskInstances").status_code == 400
    bad_date = client.get(f"{API}/dags/~/dagRuns/~/taskInstances?logical_date_gte=yesterday")
    assert bad_date.status_code == 422 and bad_date.json()["errors"][0]["field"]
    assert client.get(f"{API}/dags/~/dagRuns/~/taskInstances?limit=0").status_code == 422
    assert web.client().get(f"{API}/dags/~/dagRuns/~/taskInstances").status_code == 401


def test_get_one_instance_and_map_indexes(web: Web) -> None:
    seeded = seed(web)
    client = web.api("Viewer")
    one = client.get(f"{API}/dags/etl/dagRuns/{seeded.bad}/taskInstances/transform")
    assert one.status_code == 200
    assert one.json()["state"] == "failed" and one.json()["rendered_fields"] is None
    base = f"{API}/dags/mapped/dagRuns/{seeded.mapped}/taskInstances/double"
    assert client.get(f"{base}?map_index=2").json()["map_index"] == 2
    needs_index = client.get(base)
    assert needs_index.status_code == 404
    assert needs_index.json()["detail"].endswith("give map_index (one of 0, 1, 2)")
    wrong_index = client.get(f"{base}?map_index=7")
    assert wrong_index.status_code == 404
    assert "has no map index 7" in wrong_index.json()["detail"]
    unknown = client.get(f"{API}/dags/etl/dagRuns/{seeded.bad}/taskInstances/transfrom")
    assert unknown.status_code == 404
    assert "Task 'transfrom' not found" in unknown.json()["detail"]
    assert "'transform'" in unknown.json()["detail"]


def test_tries(web: Web) -> None:
    seeded = seed(web)
    add_try(web.store, "etl", seeded.bad, "transform", 1, state="failed", error="boom")
    add_try(web.store, "etl", seeded.bad, "transform", 2, state="running")
    body = (
        web.api("Viewer")
        .get(f"{API}/dags/etl/dagRuns/{seeded.bad}/taskInstances/transform/tries")
        .json()
    )
    assert body["total"] == 2
    assert [(t["try_number"], t["state"], t["exit_code"]) for t in body["items"]] == [
        (1, "failed", 1), (2, "running", None),
    ]  # fmt: skip
    assert body["items"][0]["error"] == "boom" and body["items"][0]["hostname"] == "worker-1"


def test_clear_dry_run_changes_nothing(web: Web) -> None:
    seeded = seed(web)
    before = ti_states(web.store, "etl", seeded.bad)
    response = web.api("User").post(
        f"{API}/dags/etl/clearTaskInstances",
        json={"task_ids": ["transform"], "include_downstream": True, "dag_run_id": seeded.bad},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] is True and body["requeued_runs"] == []
    assert sorted(i["task_id"] for i in body["task_instances"]) == ["load", "transform"]
    assert ti_states(web.store, "etl", seeded.bad) == before
    assert run_state(web.store, "etl", seeded.bad) == "failed"
    assert not [e for e, _ in audit_events(web.store) if "clear" in e]


def test_clear_resets_and_requeues_the_run(web: Web) -> None:
    seeded = seed(web)
    client = web.client("User")
    response = client.call(
        "POST",
        f"{API}/dags/etl/clearTaskInstances",
        json={"task_ids": ["transform"], "include_downstream": True, "only_failed": True,
              "dry_run": False},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is False and body["requeued_runs"] == [seeded.bad]
    assert sorted(i["task_id"] for i in body["task_instances"]) == ["load", "transform"]
    assert ti_states(web.store, "etl", seeded.bad) == {
        "extract": "success", "transform": None, "load": None,
    }  # fmt: skip
    assert run_state(web.store, "etl", seeded.bad) == "queued"
    assert run_state(web.store, "etl", seeded.good) == "success"  # only_failed: untouched
    assert ("ui_tasks_clear", "etl") not in audit_events(web.store)
    assert ("api_tasks_clear", "etl") in audit_events(web.store)


def test_clear_one_map_index(web: Web) -> None:
    seeded = seed(web)
    for index in (0, 1, 2):
        move_ti(web.store, "mapped", seeded.mapped, "double", "success", map_index=index)
    body = web.api("Op").post(
        f"{API}/dags/mapped/clearTaskInstances",
        json={"task_ids": ["double"], "map_indexes": [1], "dag_run_id": seeded.mapped,
              "dry_run": False},
    ).json()  # fmt: skip
    assert [(i["task_id"], i["map_index"]) for i in body["task_instances"]] == [("double", 1)]
    states = (
        web.api("Op")
        .get(f"{API}/dags/mapped/dagRuns/{seeded.mapped}/taskInstances?task_id=double")
        .json()["items"]
    )
    assert [(i["map_index"], i["state"]) for i in states] == [
        (0, "success"), (1, None), (2, "success"),
    ]  # fmt: skip


def test_clear_bad_input_and_roles(web: Web) -> None:
    seeded = seed(web)
    url = f"{API}/dags/etl/clearTaskInstances"
    viewer = web.api("Viewer").post(url, json={"dry_run": False})
    assert viewer.status_code == 403
    assert "a role is needed to trigger, clear" in viewer.json()["detail"]
    client = web.api("User")
    unknown_task = client.post(url, json={"task_ids": ["nope"], "dry_run": False})
    assert unknown_task.status_code == 400
    assert unknown_task.json()["detail"] == "DAG 'etl' has no task 'nope'"
    unknown_run = client.post(url, json={"dag_run_id": "nope", "dry_run": False})
    assert unknown_run.status_code == 404 and "Run 'nope'" in unknown_run.json()["detail"]
    backwards = client.post(
        url, json={"start_date": "2024-02-01T00:00Z", "end_date": "2024-01-01T00:00Z",
                   "dry_run": False},
    )  # fmt: skip
    assert backwards.status_code == 400 and "before start date" in backwards.json()["detail"]
    unknown_dag = client.post(f"{API}/dags/nope/clearTaskInstances", json={})
    assert unknown_dag.status_code == 404
    assert client.post(url, json={"task_ids": "transform"}).status_code == 422
    no_csrf = web.client("Admin").post(url, json={"dry_run": False})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]
    assert ti_state(web.store, "etl", seeded.bad, "transform") == "failed"
    assert run_state(web.store, "etl", seeded.bad) == "failed"


def test_set_state(web: Web) -> None:
    seeded = seed(web)
    url = f"{API}/dags/etl/dagRuns/{seeded.bad}/taskInstances/transform"
    marked = web.api("User").patch(url, json={"new_state": "success"})
    assert marked.status_code == 200, marked.text
    assert marked.json()["state"] == "success"
    assert ti_state(web.store, "etl", seeded.bad, "transform") == "success"
    assert ("api_tasks_mark_success", "etl") in audit_events(web.store)
    again = web.api("User").patch(url, json={"new_state": "success"})
    assert again.status_code == 409 and "already success" in again.json()["detail"]


def test_set_state_bad_input_and_roles(web: Web) -> None:
    seeded = seed(web)
    url = f"{API}/dags/etl/dagRuns/{seeded.bad}/taskInstances/transform"
    assert web.api("Viewer").patch(url, json={"new_state": "success"}).status_code == 403
    bad = web.api("User").patch(url, json={"new_state": "running"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "new_state"
    missing = web.api("User").patch(url + "x", json={"new_state": "failed"})
    assert missing.status_code == 404 and "Task 'transformx' not found" in missing.json()["detail"]
    mapped = web.api("User").patch(
        f"{API}/dags/mapped/dagRuns/{seeded.mapped}/taskInstances/double",
        json={"new_state": "failed"},
    )
    assert mapped.status_code == 404 and "give map_index" in mapped.json()["detail"]
    assert ti_state(web.store, "etl", seeded.bad, "transform") == "failed"


def test_openapi_lists_the_endpoints(web: Web) -> None:
    paths = web.client().get(f"{API}/openapi.json").json()["paths"]
    for path in (
        "/api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances",
        "/api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}",
        "/api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/tries",
        "/api/v1/dags/{dag_id}/clearTaskInstances",
        "/api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}",
        "/api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries",
    ):
        assert path in paths, path
