"""``sluice tasks list``, ``test`` and ``render``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

Invoke = Callable[..., Result]
WriteDag = Callable[[str, str], Path]

MAPPED = """
from datetime import datetime
from sluice import DAG, task
from sluice.operators import BashOperator

with DAG("mapped", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    BashOperator.partial(task_id="say").expand(
        bash_command=["echo one {{ ds }}", "echo two {{ ds }}"]
    )

    @task
    def fails():
        raise RuntimeError("nope")

    fails()
"""


@pytest.fixture(autouse=True)
def _dags(write_dag: WriteDag, tiny_dag: Path) -> None:
    write_dag("mapped.py", MAPPED)


def test_tasks_list(invoke: Invoke) -> None:
    result = invoke("tasks", "list", "tiny", "-o", "json")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        {
            "task_id": "hello",
            "operator": "DecoratedPythonOperator",
            "group": None,
            "upstream": [],
            "trigger_rule": "all_success",
            "mapped": False,
        },
        {
            "task_id": "grp.echo",
            "operator": "BashOperator",
            "group": "grp",
            "upstream": ["hello"],
            "trigger_rule": "all_success",
            "mapped": False,
        },
    ]


def test_tasks_list_table_and_plain(invoke: Invoke) -> None:
    assert "BashOperator" in invoke("tasks", "list", "mapped").stdout
    plain = invoke("tasks", "list", "tiny", "-o", "plain").stdout
    assert [line.split("\t")[0] for line in plain.splitlines()] == ["hello", "grp.echo"]


def test_tasks_list_tree(invoke: Invoke) -> None:
    result = invoke("tasks", "list", "tiny", "--tree")

    assert result.stdout.splitlines() == [
        "hello <DecoratedPythonOperator>",
        "└── grp.echo <BashOperator, group grp>",
    ]


def test_tasks_list_unknown_dag(invoke: Invoke) -> None:
    result = invoke("tasks", "list", "mapd")

    assert result.exit_code == 1
    assert result.stderr == "Error: DAG 'mapd' not found. Did you mean: 'mapped'?\n"


def test_tasks_test_prints_log_xcom_and_state(invoke: Invoke) -> None:
    result = invoke("tasks", "test", "tiny", "hello", "2024-03-15")

    assert result.exit_code == 0
    assert "hello from a task" in result.stdout
    assert 'XCom return_value: {"greeting": "hi"}' in result.stdout
    assert "Task hello: success (try 1/1)" in result.stdout


def test_tasks_test_ignores_dependencies_and_renders(invoke: Invoke) -> None:
    result = invoke("tasks", "test", "tiny", "grp.echo", "2024-03-15")

    assert result.exit_code == 0
    assert "[grp.echo] INFO ds=2024-03-15" in result.stderr
    assert 'XCom return_value: "ds=2024-03-15"' in result.stdout


def test_tasks_test_mapped_runs_every_index(invoke: Invoke) -> None:
    result = invoke("tasks", "test", "mapped", "say", "2024-03-15")

    assert result.exit_code == 0
    assert 'XCom return_value[0]: "one 2024-03-15"' in result.stdout
    assert 'XCom return_value[1]: "two 2024-03-15"' in result.stdout
    assert "Task say[1]: success" in result.stdout


def test_tasks_test_failure_exits_1(invoke: Invoke) -> None:
    result = invoke("tasks", "test", "mapped", "fails")

    assert result.exit_code == 1
    assert "Task fails: failed (try 1/1)" in result.stdout
    assert "[fails] ERROR task failed: RuntimeError: nope" in result.stderr


def test_tasks_test_unknown_task(invoke: Invoke) -> None:
    result = invoke("tasks", "test", "tiny", "helo")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "Task 'helo' not found in DAG 'tiny'. Did you mean: 'hello'?" in result.stderr
    assert result.stdout == ""


def test_tasks_test_bad_conf(invoke: Invoke) -> None:
    result = invoke("tasks", "test", "tiny", "hello", "--conf", "[]")

    assert result.exit_code == 2
    assert "must be a JSON object" in result.stderr


def test_tasks_render(invoke: Invoke) -> None:
    result = invoke("tasks", "render", "tiny", "grp.echo", "2024-03-15")

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[lines.index("# bash_command") + 2] == "echo ds=2024-03-15"


def test_tasks_render_reads_a_naive_date_in_the_default_timezone(invoke: Invoke) -> None:
    env = {"SLUICE__CORE__DEFAULT_TIMEZONE": "Asia/Tokyo"}

    result = invoke("tasks", "render", "tiny", "grp.echo", "2024-03-15", env=env)

    # Midnight in Tokyo is 15:00 UTC the day before, and ds is the UTC date, as in Airflow.
    lines = result.stdout.splitlines()
    assert lines[lines.index("# bash_command") + 2] == "echo ds=2024-03-14"


def test_tasks_render_mapped_json(invoke: Invoke) -> None:
    result = invoke("tasks", "render", "mapped", "say", "2024-03-15", "-o", "json")

    rendered = json.loads(result.stdout)
    assert [(r["map_index"], r["fields"]["bash_command"]) for r in rendered] == [
        (0, "echo one 2024-03-15"),
        (1, "echo two 2024-03-15"),
    ]


def test_tasks_render_needs_a_logical_date(invoke: Invoke) -> None:
    result = invoke("tasks", "render", "tiny", "grp.echo")

    assert result.exit_code == 2
    assert "Missing argument 'LOGICAL_DATE'" in result.stderr
