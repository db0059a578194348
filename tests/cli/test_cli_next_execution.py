"""``sluice dags next-execution``: the next runs of a schedule."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

Invoke = Callable[..., Result]
WriteDag = Callable[[str, str], Path]

SCHEDULED = """
from datetime import datetime
from sluice import DAG

for dag_id, schedule in [("none", None), ("once", "@once"), ("continuous", "@continuous")]:
    globals()[dag_id] = DAG(dag_id, schedule=schedule, start_date=datetime(2024, 1, 1))

ending = DAG(
    "ending", schedule="@daily", start_date=datetime(2024, 1, 1), end_date=datetime(2024, 1, 2)
)
"""


@pytest.fixture(autouse=True)
def _dags(write_dag: WriteDag, tiny_dag: Path) -> None:
    write_dag("scheduled.py", SCHEDULED)


def test_next_runs_from_start_date(invoke: Invoke) -> None:
    result = invoke("dags", "next-execution", "tiny", "-n", "2", "-o", "json")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "dag_id": "tiny",
        "schedule": "@daily",
        "runs": [
            {
                "logical_date": "2024-01-01T00:00:00+00:00",
                "data_interval_start": "2024-01-01T00:00:00+00:00",
                "data_interval_end": "2024-01-02T00:00:00+00:00",
                "run_after": "2024-01-02T00:00:00+00:00",
            },
            {
                "logical_date": "2024-01-02T00:00:00+00:00",
                "data_interval_start": "2024-01-02T00:00:00+00:00",
                "data_interval_end": "2024-01-03T00:00:00+00:00",
                "run_after": "2024-01-03T00:00:00+00:00",
            },
        ],
        "note": None,
    }


def test_next_runs_after_a_date(invoke: Invoke) -> None:
    result = invoke("dags", "next-execution", "tiny", "--after", "2025-06-01T12:00", "-o", "json")

    [run] = json.loads(result.stdout)["runs"]
    assert run["logical_date"] == "2025-06-02T00:00:00+00:00"


def test_next_runs_table(invoke: Invoke) -> None:
    result = invoke("dags", "next-execution", "tiny", "-n", "3")

    assert result.exit_code == 0
    assert "tiny: @daily (At 00:00)" in result.stdout
    assert "2024-01-03T00:00:00+00:00" in result.stdout


def test_naive_after_is_read_in_the_default_timezone(invoke: Invoke) -> None:
    env = {"SLUICE__CORE__DEFAULT_TIMEZONE": "Asia/Tokyo"}

    result = invoke("dags", "next-execution", "tiny", "--after", "2025-06-01T12:00", env=env)

    # tiny's naive start_date is read in Tokyo too: runs start at midnight there.
    assert result.exit_code == 0
    assert "2025-06-01T15:00:00+00:00" in result.stdout  # midnight of 2 June in Tokyo
    assert "2025-06-01T12:00" not in result.stdout


def test_no_schedule_is_null_in_json(invoke: Invoke) -> None:
    result = invoke("dags", "next-execution", "none", "-o", "json")

    assert json.loads(result.stdout)["schedule"] is None


def test_no_schedule(invoke: Invoke) -> None:
    result = invoke("dags", "next-execution", "none")

    assert result.exit_code == 0
    assert result.stdout == (
        "DAG 'none' has no schedule (schedule=None): it runs only when triggered\n"
    )


def test_once_gives_one_run(invoke: Invoke) -> None:
    result = invoke("dags", "next-execution", "once", "-n", "3", "-o", "json")

    document = json.loads(result.stdout)
    assert [r["logical_date"] for r in document["runs"]] == ["2024-01-01T00:00:00+00:00"]
    assert document["note"] == "DAG 'once' (@once) has only 1 run"
    table = invoke("dags", "next-execution", "once", "-n", "3")
    assert "DAG 'once' (@once) has only 1 run" in table.stderr


def test_continuous(invoke: Invoke) -> None:
    result = invoke("dags", "next-execution", "continuous")

    assert result.exit_code == 0
    assert "runs continuously (@continuous)" in result.stdout


def test_end_date_limits_the_runs(invoke: Invoke) -> None:
    result = invoke("dags", "next-execution", "ending", "-n", "5", "-o", "json")

    document = json.loads(result.stdout)
    assert len(document["runs"]) == 2
    assert "before its end_date" in document["note"]


@pytest.mark.parametrize("count", ["0", "-3"])
def test_count_must_be_positive(invoke: Invoke, count: str) -> None:
    result = invoke("dags", "next-execution", "tiny", "-n", count)

    assert result.exit_code == 2
    assert f"Invalid value for '-n' / '--num-executions': {count} is not in the range x>=1" in (
        result.stderr
    )


def test_bad_after(invoke: Invoke) -> None:
    result = invoke("dags", "next-execution", "tiny", "--after", "soon")

    assert result.exit_code == 2
    assert "'soon' is not an ISO-8601 date or datetime" in result.stderr
