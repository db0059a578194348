"""REST API: the check results of a task instance's tries, and of every DAG by table, DAG
and outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from tests.web.conftest import Web
from tests.web.ti_helpers import Seeded, seed

from sluice.core.messages import TaskInstanceKey
from sluice.store.check_results import NewCheckResult, add_check_results
from sluice.store.tables import TaskInstance

API = "/api/v1"
XSS = "<script>alert(1)</script>"
T0 = datetime(2024, 1, 3, 6, tzinfo=UTC)


def check(
    name: str,
    passed: bool,
    observed: str | None = "0",
    *,
    table: str | None = "orders",
    column: str | None = "customer_id",
    severity: str = "error",
    expectation: str = "null_check equal_to 0",
    check_type: str = "column",
) -> NewCheckResult:
    """One result to store."""
    return NewCheckResult(name, check_type, table, column, observed, expectation, passed, severity)


@dataclass(frozen=True)
class Checked(Seeded):
    """``seed``'s runs, with check results: etl's transform checked ``orders`` in the good
    run (try 1) and in the bad run (tries 1 and 2; try 2 also ``customers``), and mapped's
    double [1] checked ``numbers``."""


def seed_checks(web: Web) -> Checked:
    """``seed`` plus check results (see Checked), stored oldest first."""
    seeded = seed(web)
    with web.store.transaction() as session:
        session.execute(
            update(TaskInstance)
            .where(TaskInstance.run_id == seeded.bad, TaskInstance.task_id == "transform")
            .values(try_number=2)
        )
    row_count = {"check_type": "table", "column": None, "expectation": "COUNT(*) > 0"}
    plan = [
        (seeded.good, "transform", -1, 1, [check("null_check", True),
                                          check("row_count_check", True, "true", **row_count)]),
        (seeded.bad, "transform", -1, 1, [check("null_check", False, "2"),
                                         check("row_count_check", True, "true", **row_count)]),
        (seeded.bad, "transform", -1, 2, [
            check("null_check", False, "1"),
            check("row_count_check", False, "false", severity="warn", **row_count),
            check("max", True, XSS, table="customers", column="name",
                  expectation="max leq_to 'zzz'"),
        ]),
        (seeded.mapped, "double", 1, 1, [check("value 1", True, "2", table="numbers",
                                              column=None, check_type="value",
                                              expectation="= 2")]),
    ]  # fmt: skip
    with web.store.transaction() as session:
        for i, (run_id, task_id, map_index, try_number, results) in enumerate(plan):
            dag_id = "mapped" if task_id == "double" else "etl"
            key = TaskInstanceKey(dag_id, run_id, task_id, map_index)
            add_check_results(session, key, try_number, results, when=T0 + timedelta(hours=i))
    return Checked(good=seeded.good, bad=seeded.bad, mapped=seeded.mapped)


def instance_url(run_id: str, task_id: str = "transform", dag_id: str = "etl") -> str:
    return f"{API}/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/checks"


def test_a_task_instance_results_by_try(web: Web) -> None:
    seeded = seed_checks(web)
    client = web.api("Viewer")
    every = client.get(instance_url(seeded.bad))
    assert every.status_code == 200, every.text
    body = every.json()
    assert body["total"] == 5 and body["limit"] == 100 and body["offset"] == 0
    assert [(i["try_number"], i["check_name"], i["outcome"]) for i in body["items"]] == [
        (1, "null_check", "fail"),
        (1, "row_count_check", "pass"),
        (2, "null_check", "fail"),
        (2, "row_count_check", "warn"),
        (2, "max", "pass"),
    ]
    first = body["items"][0]
    assert first == {
        "dag_id": "etl", "dag_run_id": seeded.bad, "task_id": "transform", "map_index": -1,
        "try_number": 1, "check_name": "null_check", "check_type": "column", "table": "orders",
        "column": "customer_id", "observed": "2", "expectation": "null_check equal_to 0",
        "passed": False, "severity": "error", "outcome": "fail",
        "recorded_at": first["recorded_at"],
    }  # fmt: skip
    assert first["recorded_at"].startswith("2024-01-03T07:00:00")
    second = client.get(instance_url(seeded.bad), params={"try_number": 2}).json()
    assert [i["check_name"] for i in second["items"]] == ["null_check", "row_count_check", "max"]
    assert second["items"][2]["observed"] == XSS  # JSON carries the text as it is
    paged = client.get(instance_url(seeded.bad), params={"limit": 2, "offset": 2}).json()
    assert paged["total"] == 5 and [i["try_number"] for i in paged["items"]] == [2, 2]
    mapped = client.get(instance_url(seeded.mapped, "double", "mapped"), params={"map_index": 1})
    assert [i["check_name"] for i in mapped.json()["items"]] == ["value 1"]
    none = client.get(instance_url(seeded.good, "extract")).json()
    assert none == {"items": [], "total": 0, "limit": 100, "offset": 0}


def test_a_task_instance_bad_input(web: Web) -> None:
    seeded = seed_checks(web)
    client = web.api("Viewer")
    missing_dag = client.get(f"{API}/dags/nope/dagRuns/{seeded.bad}/taskInstances/transform/checks")
    assert missing_dag.status_code == 404 and "'nope'" in missing_dag.json()["detail"]
    assert missing_dag.headers["content-type"] == "application/problem+json"
    missing_run = client.get(instance_url("nope"))
    assert missing_run.status_code == 404 and "Run 'nope' not found" in missing_run.json()["detail"]
    missing_task = client.get(instance_url(seeded.bad, "transfrom"))
    assert missing_task.status_code == 404
    assert "Did you mean: 'transform'" in missing_task.json()["detail"]
    mapped = client.get(instance_url(seeded.mapped, "double", "mapped"))
    assert mapped.status_code == 404 and "give map_index" in mapped.json()["detail"]
    future = client.get(instance_url(seeded.bad), params={"try_number": 3})
    assert future.status_code == 404 and "has had 2 tries" in future.json()["detail"]
    zero = client.get(instance_url(seeded.bad), params={"try_number": 0})
    assert zero.status_code == 422 and zero.json()["errors"][0]["field"] == "try_number"
    assert web.client().get(instance_url(seeded.bad)).status_code == 401


def test_results_of_every_dag_newest_first_with_filters(web: Web) -> None:
    seeded = seed_checks(web)
    client = web.api("Viewer")
    every = client.get(f"{API}/checks").json()
    assert every["total"] == 8
    assert [i["check_name"] for i in every["items"][:2]] == ["value 1", "max"]
    orders = client.get(f"{API}/checks", params={"table": "orders"}).json()
    assert orders["total"] == 6 and {i["table"] for i in orders["items"]} == {"orders"}
    assert [i["dag_run_id"] for i in orders["items"]][-2:] == [seeded.good, seeded.good]
    failed = client.get(f"{API}/checks", params={"passed": "false", "table": "orders"}).json()
    assert [(i["observed"], i["outcome"]) for i in failed["items"]] == [
        ("false", "warn"), ("1", "fail"), ("2", "fail"),
    ]  # fmt: skip
    mapped = client.get(f"{API}/checks", params={"dag_id": "mapped", "passed": "true"}).json()
    assert [(i["task_id"], i["map_index"]) for i in mapped["items"]] == [("double", 1)]
    page = client.get(f"{API}/checks", params={"limit": 3, "offset": 3}).json()
    assert page["total"] == 8 and len(page["items"]) == 3
    assert [i["check_name"] for i in page["items"]] == [
        i["check_name"] for i in every["items"][3:6]
    ]
    assert client.get(f"{API}/checks", params={"table": "nowhere"}).json()["total"] == 0


def test_results_of_every_dag_bad_input(web: Web) -> None:
    seed_checks(web)
    client = web.api("Viewer")
    bad = client.get(f"{API}/checks", params={"passed": "maybe"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "passed"
    assert client.get(f"{API}/checks", params={"limit": 0}).status_code == 422
    assert web.client().get(f"{API}/checks").status_code == 401
    assert web.api("Admin").get(f"{API}/checks").status_code == 200


def test_the_endpoints_are_in_the_openapi_document(web: Web) -> None:
    spec = web.client().get(f"{API}/openapi.json").json()
    instance = spec["paths"][
        f"{API}/dags/{{dag_id}}/dagRuns/{{dag_run_id}}/taskInstances/{{task_id}}/checks"
    ]["get"]
    every = spec["paths"][f"{API}/checks"]["get"]
    for operation in (instance, every):
        names = {p["name"] for p in operation["parameters"]}
        assert {"limit", "offset"} <= names and operation["tags"] == ["DataQuality"]
        assert operation["description"] or operation["summary"]
    assert {"try_number", "map_index"} <= {p["name"] for p in instance["parameters"]}
    assert {"table", "dag_id", "passed"} <= {p["name"] for p in every["parameters"]}
