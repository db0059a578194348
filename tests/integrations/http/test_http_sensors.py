"""HttpSensor against a real local server: 404 is "not yet", other errors fail unless
allowlisted, response_check decides, poke and reschedule modes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.integrations.http.conftest import Recorder
from tests.runner.conftest import Stored

from sluice import DAG
from sluice.core.errors import DagDefinitionError
from sluice.core.messages import RunnerExit
from sluice.core.states import TaskInstanceState
from sluice.core.xcom_codec import decode_xcom
from sluice.integrations.http import HttpRequestError, HttpSensor, HttpStatusError
from sluice.runner.local_run import LocalDagRun
from sluice.sensors import PokeReturnValue

S = TaskInstanceState
MakeRun = Callable[..., LocalDagRun]


def _sense(make_run: MakeRun, **args: Any) -> tuple[Any, Any]:
    """Run a DAG of one HttpSensor 'wait' (poke mode); its record and XCom value."""
    args.setdefault("poke_interval", 0.01)
    with DAG("sense_http") as dag:
        HttpSensor(task_id="wait", **args)
    run = make_run(dag)
    (record,) = run.execute().instances
    raw = run.xcom.get("wait", -1, "return_value")
    return record, None if raw is None else decode_xcom(raw)


def test_404_means_not_yet_then_success(http_conn: Recorder, make_run: MakeRun) -> None:
    record, _ = _sense(make_run, endpoint="appear/sensor-404/2")
    assert record.state == S.SUCCESS
    assert [r.method for r in http_conn.to("/appear/sensor-404")] == ["GET", "GET", "GET"]


def test_request_params_go_in_the_query(http_conn: Recorder, make_run: MakeRun) -> None:
    record, _ = _sense(make_run, endpoint="echo/sensor-params", request_params={"day": "{{ ds }}"})
    assert record.state == S.SUCCESS
    (got,) = http_conn.to("/echo/sensor-params")
    assert got.query == {"day": "2024-03-15"}


def test_response_check_decides_and_may_push_a_value(
    http_conn: Recorder, make_run: MakeRun
) -> None:
    def ready(response: Any, ds: str) -> PokeReturnValue:
        body = response.json()
        return PokeReturnValue(body["after"] >= 3, {"day": ds, "after": body["after"]})

    # /appear answers 200 from the 2nd request on; the check wants the 3rd.
    record, value = _sense(make_run, endpoint="appear/sensor-check/1", response_check=ready)
    assert record.state == S.SUCCESS
    assert value == {"day": "2024-03-15", "after": 3}
    assert len(http_conn.to("/appear/sensor-check")) == 3


def test_another_error_status_fails_at_once(http_conn: Recorder, make_run: MakeRun) -> None:
    record, _ = _sense(make_run, endpoint="status/403", retries=0)
    assert record.state == S.FAILED
    assert (record.error or "").startswith("HttpStatusError: connection 'http_default': GET ")
    assert "answered 403 Forbidden" in (record.error or "")
    assert len(http_conn.to("/status/403")) == 1


def test_an_allowlisted_status_keeps_poking_until_the_timeout(
    http_conn: Recorder, make_run: MakeRun
) -> None:
    record, _ = _sense(
        make_run,
        endpoint="status/503",
        response_error_codes_allowlist=["404", 503],
        timeout=0.05,
    )
    assert record.state == S.FAILED
    assert (record.error or "").startswith("SensorTimeout: sensor 'wait' timed out")
    assert len(http_conn.to("/status/503")) >= 2


def test_an_empty_allowlist_makes_404_an_error(http_conn: Recorder) -> None:
    with DAG("d"):
        sensor = HttpSensor(task_id="s", endpoint="missing", response_error_codes_allowlist=[])
    with pytest.raises(HttpStatusError) as info:
        sensor.poke({})
    assert info.value.status_code == 404


def test_a_prefix_allowlists_a_class_of_statuses(http_conn: Recorder) -> None:
    # As Airflow, which matches the error text's start: "5" allows every 5xx.
    with DAG("d"):
        sensor = HttpSensor(
            task_id="s", endpoint="status/504", response_error_codes_allowlist=["5"]
        )
    assert sensor.poke({}) is False


def test_check_response_false_hands_every_answer_to_response_check(
    http_conn: Recorder,
) -> None:
    seen: list[int] = []
    with DAG("d"):
        sensor = HttpSensor(
            task_id="s",
            endpoint="status/500",
            extra_options={"check_response": False},
            response_check=lambda r: seen.append(r.status_code) or r.status_code == 500,
        )
    assert sensor.poke({}) is True
    assert seen == [500]


def test_a_refused_connection_fails_the_sensor(
    closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_CONN_DOWN", f"http://127.0.0.1:{closed_port}")
    with DAG("d"):
        sensor = HttpSensor(task_id="s", http_conn_id="down", endpoint="health")
    with pytest.raises(HttpRequestError, match="Connection refused"):
        sensor.poke({})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"method": "GRAB"}, "method must be one of GET, POST"),
        ({"response_check": True}, "response_check must be a function"),
        ({"response_error_codes_allowlist": "404"}, "must be a list of status codes"),
        ({"response_error_codes_allowlist": ["4o4"]}, "holds '4o4', which is not a status code"),
        ({"request_params": "a=1"}, "request_params must be a dict"),
    ],
)
def test_bad_arguments_fail_at_definition(args: dict[str, Any], message: str) -> None:
    with DAG("bad_sense"), pytest.raises(DagDefinitionError) as info:
        HttpSensor(task_id="s", endpoint="x", **args)
    assert str(info.value).startswith("task 's' of DAG 'bad_sense': ")
    assert message in str(info.value)


def test_the_endpoint_is_required() -> None:
    with DAG("bad_sense"), pytest.raises(DagDefinitionError, match="'endpoint'"):
        HttpSensor(task_id="s")


SENSOR_DAG = """
from sluice.integrations.http import HttpSensor

with DAG("http_wait", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    HttpSensor(
        task_id="wait",
        http_conn_id="api",
        endpoint="appear/resched-{{ ti.try_number }}-%s/1",
        mode="reschedule",
        poke_interval=60,
        response_check=lambda response: PokeReturnValue(True, response.json()),
    )
"""


def test_reschedule_mode_through_the_task_runner(
    stored: Stored, http_server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_CONN_API", http_server.url)
    key = stored.store.url.split(":", 1)[0]  # one path per database backend
    stored.write("http_wait.py", SENSOR_DAG % key)
    run_id = stored.trigger("http_wait")

    assert stored.run("http_wait", run_id, "wait") == RunnerExit.OUTCOME_WRITTEN
    ti = stored.ti("http_wait", run_id, "wait")
    assert (ti.state, ti.try_number) == (S.UP_FOR_RESCHEDULE, 1)

    assert stored.run("http_wait", run_id, "wait") == RunnerExit.OUTCOME_WRITTEN
    ti = stored.ti("http_wait", run_id, "wait")
    assert (ti.state, ti.try_number) == (S.SUCCESS, 1)
    assert len(http_server.to(f"/appear/resched-1-{key}")) == 2
