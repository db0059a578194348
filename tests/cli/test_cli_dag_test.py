"""``sluice dags test``: a whole run in this process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

Invoke = Callable[..., Result]
WriteDag = Callable[[str, str], Path]

FLAKY = """
from datetime import datetime
from sluice import DAG, Param, task

with DAG(
    "flaky",
    start_date=datetime(2024, 1, 1),
    schedule=None,
    params={"limit": Param(5, type="integer", minimum=1)},
) as dag:
    @task(retries=1, retry_delay=3600)
    def boom():
        print("about to fail")
        raise ValueError("kaboom")

    @task
    def after(value):
        return value

    @task
    def numbers(params=None):
        return list(range(params["limit"]))

    @task
    def double(x):
        return x * 2

    after(boom())
    double.expand(x=numbers())
"""


def test_dags_test_success(invoke: Invoke, tiny_dag: Path) -> None:
    result = invoke("dags", "test", "tiny", "2024-03-15")

    assert result.exit_code == 0, result.output
    out = result.stdout
    # Each state change, as it happens, then the task's own output.
    assert "  hello  running  try 1/1" in out
    assert "hello from a task" in out
    assert "  grp.echo  success  try 1/1" in out
    assert "DAG run manual__2024-03-15T00:00:00+00:00 of 'tiny': success" in out
    # The BashOperator's output is task log, on stderr, named by its task.
    assert "[grp.echo] INFO ds=2024-03-15" in result.stderr


def test_dags_test_json_is_the_only_stdout(invoke: Invoke, tiny_dag: Path) -> None:
    result = invoke("dags", "test", "tiny", "2024-03-15T06:30:00+02:00", "-o", "json")

    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["state"] == "success"
    assert document["dag_id"] == "tiny"
    assert document["run_id"] == "manual__2024-03-15T04:30:00+00:00"
    assert document["logical_date"] == "2024-03-15T04:30:00+00:00"
    assert document["data_interval_start"] == "2024-03-14T00:00:00+00:00"
    assert document["data_interval_end"] == "2024-03-15T00:00:00+00:00"
    assert document["conf"] == {}
    assert isinstance(document["duration"], float)
    by_task = {ti["task_id"]: ti for ti in document["task_instances"]}
    assert by_task["hello"]["state"] == "success"
    assert by_task["hello"]["try_number"] == 1
    assert by_task["hello"]["map_index"] == -1
    assert by_task["grp.echo"]["start_date"].endswith("+00:00")
    # print() in a task and progress lines go to stderr.
    assert "hello from a task" in result.stderr
    assert "hello  running" in result.stderr


def test_dags_test_naive_logical_date_is_utc(invoke: Invoke, tiny_dag: Path) -> None:
    result = invoke("dags", "test", "tiny", "2024-03-15T06:30", "-o", "json")

    assert json.loads(result.stdout)["logical_date"] == "2024-03-15T06:30:00+00:00"


def test_dags_test_naive_logical_date_is_read_in_the_default_timezone(
    invoke: Invoke, tiny_dag: Path
) -> None:
    env = {"SLUICE__CORE__DEFAULT_TIMEZONE": "Europe/Paris"}

    result = invoke("dags", "test", "tiny", "2024-03-15T06:30", "-o", "json", env=env)

    assert json.loads(result.stdout)["logical_date"] == "2024-03-15T05:30:00+00:00"
    # An explicit offset wins.
    aware = invoke("dags", "test", "tiny", "2024-03-15T06:30+00:00", "-o", "json", env=env)
    assert json.loads(aware.stdout)["logical_date"] == "2024-03-15T06:30:00+00:00"


def test_dags_test_failing_run_exits_1(invoke: Invoke, write_dag: WriteDag) -> None:
    write_dag("flaky.py", FLAKY)

    result = invoke("dags", "test", "flaky", "--no-retry-delay", "-o", "json")

    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["state"] == "failed"
    states = {
        (ti["task_id"], ti["map_index"]): (ti["state"], ti["try_number"])
        for ti in document["task_instances"]
    }
    assert states == {
        ("boom", -1): ("failed", 2),
        ("after", -1): ("upstream_failed", 0),
        ("numbers", -1): ("success", 1),
        ("double", 0): ("success", 1),
        ("double", 1): ("success", 1),
        ("double", 2): ("success", 1),
        ("double", 3): ("success", 1),
        ("double", 4): ("success", 1),
    }
    assert "boom  up_for_retry  try 1/2" in result.stderr
    assert "double[4]  success" in result.stderr
    assert "[boom] ERROR task failed: ValueError: kaboom" in result.stderr


def test_dags_test_table_summary_of_a_failed_run(invoke: Invoke, write_dag: WriteDag) -> None:
    write_dag("flaky.py", FLAKY)

    result = invoke("dags", "test", "flaky", "--no-retry-delay")

    assert result.exit_code == 1
    assert "upstream_failed" in result.stdout
    assert "of 'flaky': failed" in result.stdout


def test_dags_test_conf_reaches_the_tasks(invoke: Invoke, write_dag: WriteDag) -> None:
    write_dag("flaky.py", FLAKY)

    result = invoke(
        "dags", "test", "flaky", "--no-retry-delay", "--conf", '{"limit": 2}', "-o", "json"
    )

    document = json.loads(result.stdout)
    assert document["conf"] == {"limit": 2}
    assert [ti["map_index"] for ti in document["task_instances"] if ti["task_id"] == "double"] == [
        0,
        1,
    ]


def test_dags_test_param_validation_error(invoke: Invoke, write_dag: WriteDag) -> None:
    write_dag("flaky.py", FLAKY)

    result = invoke("dags", "test", "flaky", "--conf", '{"limit": 0}')

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: invalid conf for DAG 'flaky': param 'limit': 0 is less than the minimum of 1\n"
    )


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ("{limit: 2}", "not valid JSON: Expecting property name enclosed in double quotes"),
        ("[1, 2]", "must be a JSON object such as '{\"limit\": 10}', not an array"),
        ('"text"', "must be a JSON object such as '{\"limit\": 10}', not a string"),
    ],
)
def test_dags_test_bad_conf(invoke: Invoke, tiny_dag: Path, conf: str, message: str) -> None:
    result = invoke("dags", "test", "tiny", "--conf", conf)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Invalid value for '--conf'" in result.stderr
    assert message in result.stderr
    assert "running" not in result.output


@pytest.mark.parametrize("date", ["2024-13-01", "yesterday", "2024-02-30T10:00"])
def test_dags_test_bad_logical_date(invoke: Invoke, tiny_dag: Path, date: str) -> None:
    result = invoke("dags", "test", "tiny", date)

    assert result.exit_code == 2
    assert f"Invalid value for '[LOGICAL_DATE]': '{date}' is not an ISO-8601 date or datetime" in (
        result.stderr
    )
    assert "running" not in result.output


def test_dags_test_unknown_dag(invoke: Invoke, tiny_dag: Path) -> None:
    result = invoke("dags", "test", "tiyn")

    assert result.exit_code == 1
    assert result.stderr == "Error: DAG 'tiyn' not found. Did you mean: 'tiny'?\n"


WIDE_DAG = """
from datetime import datetime
from sluice import DAG
from sluice.operators import BashOperator, EmptyOperator

with DAG("wide", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    start = EmptyOperator(task_id="start")
    start >> [EmptyOperator(task_id=f"ok_{i}") for i in range(60)]
    start >> BashOperator(task_id="broken", bash_command="exit 3")
"""


def test_dags_test_summary_of_a_wide_run_lists_only_what_did_not_succeed(
    invoke: Invoke, write_dag: WriteDag
) -> None:
    write_dag("wide.py", WIDE_DAG)

    result = invoke("dags", "test", "wide")

    assert result.exit_code == 1
    assert "62 task instances: 1 failed, 61 success" in result.stdout
    assert "broken" in result.stdout
    assert "ok_7 " not in result.stdout.split("task instances:")[1]
