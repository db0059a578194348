"""HttpOperator in a DAG run against a real local server: XCom, response_check,
response_filter, retries within the try, templating, and bad arguments."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from tests.integrations.http.conftest import Recorder, set_connection

from sluice import DAG
from sluice.core.errors import DagDefinitionError
from sluice.core.states import TaskInstanceState
from sluice.core.xcom_codec import decode_xcom
from sluice.integrations.http import HttpOperator, SimpleHttpOperator
from sluice.runner.local_run import LocalDagRun

S = TaskInstanceState
MakeRun = Callable[..., LocalDagRun]


def _run_one(make_run: MakeRun, **op_args: Any) -> tuple[Any, Any]:
    """Run a DAG of one HttpOperator 'call'; its record and its XCom value (or None)."""
    with DAG("http_dag") as dag:
        HttpOperator(task_id="call", **op_args)
    run = make_run(dag)
    result = run.execute()
    (record,) = result.instances
    raw = run.xcom.get("call", -1, "return_value")
    return record, None if raw is None else decode_xcom(raw)


def test_the_response_text_goes_to_xcom(http_conn: Recorder, make_run: MakeRun) -> None:
    record, value = _run_one(make_run, endpoint="csv", method="GET")
    assert record.state == S.SUCCESS
    assert value == "id,name\n1,ada\n2,grace\n"


def test_response_filter_makes_the_xcom_value(http_conn: Recorder, make_run: MakeRun) -> None:
    record, value = _run_one(
        make_run, endpoint="json", method="GET", response_filter=lambda r: r.json()["items"]
    )
    assert record.state == S.SUCCESS
    assert value == [1, 2, 3]


def test_response_check_and_filter_get_context_values(
    http_conn: Recorder, make_run: MakeRun
) -> None:
    seen: list[str] = []

    def check(response: Any, ds: str) -> bool:
        seen.append(ds)
        return bool(response.json()["status"] == "ok")

    record, value = _run_one(
        make_run,
        endpoint="json",
        method="GET",
        response_check=check,
        response_filter=lambda response, run_id: f"{run_id}:{len(response.json()['items'])}",
    )
    assert record.state == S.SUCCESS
    assert seen == ["2024-03-15"]
    assert value == "manual__2024-03-15T00:00:00+00:00:3"


def test_a_false_response_check_fails_the_task(http_conn: Recorder, make_run: MakeRun) -> None:
    record, value = _run_one(
        make_run, endpoint="json", method="GET", response_check=lambda r: "nope" in r.text
    )
    assert record.state == S.FAILED
    assert record.error == (
        "ResponseCheckFailed: task 'call' of DAG 'http_dag': response_check returned False"
        " for the answer 200 of GET json"
    )
    assert value is None


def test_an_error_status_fails_the_task_with_the_body(
    http_conn: Recorder, make_run: MakeRun
) -> None:
    record, _ = _run_one(make_run, endpoint="status/502", method="GET")
    assert record.state == S.FAILED
    assert record.error == (
        f"HttpStatusError: connection 'http_default': GET {http_conn.url}/status/502 answered"
        " 502 Bad Gateway: status 502"
    )


def test_5xx_is_retried_within_the_try(http_conn: Recorder, make_run: MakeRun) -> None:
    record, value = _run_one(
        make_run, endpoint="flaky/op-retry/2", method="GET", retry_limit=2, retry_delay=0
    )
    assert (record.state, record.try_number) == (S.SUCCESS, 1)
    assert value == "recovered"
    assert len(http_conn.to("/flaky/op-retry")) == 3


def test_retry_args_are_airflows_name_for_the_same(http_conn: Recorder, make_run: MakeRun) -> None:
    record, _ = _run_one(
        make_run,
        endpoint="flaky/op-args/5",
        method="GET",
        retry_args={"retry_limit": 1, "retry_delay": 0},
    )
    assert record.state == S.FAILED
    assert "answered 500 Internal Server Error" in (record.error or "")
    assert len(http_conn.to("/flaky/op-args")) == 2


def test_without_retries_a_5xx_fails_at_once(http_conn: Recorder, make_run: MakeRun) -> None:
    record, _ = _run_one(make_run, endpoint="flaky/op-none/1", method="GET")
    assert record.state == S.FAILED
    assert len(http_conn.to("/flaky/op-none")) == 1


def test_a_refused_connection_is_retried_then_fails(
    closed_port: int, monkeypatch: pytest.MonkeyPatch, make_run: MakeRun
) -> None:
    set_connection(monkeypatch, "down", f"http://127.0.0.1:{closed_port}")
    record, _ = _run_one(make_run, http_conn_id="down", endpoint="x", retry_limit=2, retry_delay=0)
    assert record.state == S.FAILED
    assert record.error == (
        f"HttpRequestError: connection 'down': POST http://127.0.0.1:{closed_port}/x failed:"
        " cannot connect: Connection refused"
    )


def test_endpoint_data_and_headers_are_templated(http_conn: Recorder, make_run: MakeRun) -> None:
    record, value = _run_one(
        make_run,
        endpoint="echo/templated/{{ ds_nodash }}",
        method="POST",
        data={"run": "{{ run_id }}", "task": "{{ ti.task_id }}"},
        headers={"X-Logical-Date": "{{ ds }}"},
        response_filter=lambda r: r.json()["path"],
    )
    assert record.state == S.SUCCESS
    assert value == "/echo/templated/20240315"
    (got,) = http_conn.to("/echo/templated")
    assert got.headers["X-Logical-Date"] == "2024-03-15"
    assert got.body == b"run=manual__2024-03-15T00%3A00%3A00%2B00%3A00&task=call"


def test_json_data_as_in_airflows_examples(
    http_conn: Recorder, make_run: MakeRun, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="sluice.task"):
        record, _ = _run_one(
            make_run,
            endpoint="echo/post-json",
            data=json.dumps({"priority": 5}),
            headers={"Content-Type": "application/json"},
            log_response=True,
        )
    assert record.state == S.SUCCESS
    (got,) = http_conn.to("/echo/post-json")
    assert got.json() == {"priority": 5}
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("{")]
    assert [json.loads(m)["path"] for m in logged] == ["/echo/post-json"]


def test_simple_http_operator_is_the_same_class() -> None:
    assert SimpleHttpOperator is HttpOperator


# -- bad inputs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"method": "FETCH"}, "method must be one of GET, POST, PUT, PATCH, DELETE, HEAD, "),
        ({"response_check": "ok"}, "response_check must be a function that takes the response"),
        ({"response_filter": 3}, "response_filter must be a function that takes the response"),
        ({"headers": ["X-A"]}, "headers must be a dict, got ['X-A']"),
        ({"extra_options": "fast"}, "extra_options must be a dict, got 'fast'"),
        ({"retry_limit": -2}, "retry_limit must be an integer >= 0, got -2"),
        ({"retry_args": {"stop": 3}}, "unknown retry argument(s) stop"),
    ],
)
def test_bad_arguments_fail_at_definition(args: dict[str, Any], message: str) -> None:
    with DAG("bad_http"), pytest.raises(DagDefinitionError) as info:
        HttpOperator(task_id="call", endpoint="x", **args)
    assert str(info.value).startswith("task 'call' of DAG 'bad_http': ")
    assert message in str(info.value)


def test_a_missing_connection_fails_the_task(
    make_run: MakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLUICE_CONN_NOWHERE", raising=False)
    record, _ = _run_one(make_run, http_conn_id="nowhere", endpoint="x")
    assert record.state == S.FAILED
    assert (record.error or "").startswith(
        "ConnectionNotFound: connection 'nowhere' is not defined"
    )
