"""Bad inputs end in one red ``Error:`` line and exit code 1, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sluice.cli.main import cli

Invoke = Callable[..., Result]
WriteDag = Callable[[str, str], Path]

CYCLE = """
from datetime import datetime
from sluice import DAG
from sluice.operators import EmptyOperator

with DAG("cyc", start_date=datetime(2024, 1, 1), schedule=None):
    a = EmptyOperator(task_id="a")
    b = EmptyOperator(task_id="b")
    a >> b >> a
"""


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_error_line_is_red(home: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a DAG\n")
    env = {"SLUICE_HOME": str(home)}

    result = CliRunner().invoke(cli, ["dags", "list", "-S", str(notes)], env=env, color=True)

    assert result.stderr.startswith("\x1b[31mError: ")


def test_dags_folder_that_is_not_a_python_file(invoke: Invoke, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("from sluice import DAG\n")

    result = invoke("dags", "list", "--dags-folder", str(notes), folder=False)

    assert one_error_line(result) == f"Error: {notes} is not a Python file: DAG files end in .py"


def test_sluice_home_that_cannot_be_created(invoke: Invoke) -> None:
    result = invoke("dags", "list", env={"SLUICE_HOME": "/dev/null/x"})

    assert (
        one_error_line(result) == "Error: Cannot create /dev/null/x (SLUICE_HOME): Not a directory"
    )


def test_logical_date_before_the_first_tick(invoke: Invoke) -> None:
    result = invoke("dags", "test", "example_python_hello", "0001-01-01", examples=True)

    line = one_error_line(result)
    assert line.startswith("Error: date out of range: cron expression '0 6 * * *' has no tick")


def test_next_execution_after_the_last_date(invoke: Invoke) -> None:
    result = invoke(
        "dags", "next-execution", "example_python_hello", "--after", "9999-12-31", examples=True
    )

    line = one_error_line(result)
    assert line.startswith("Error: date out of range: cron expression '0 6 * * *' has no tick")


def test_dag_whose_file_failed_to_import(invoke: Invoke, write_dag: WriteDag) -> None:
    path = write_dag("cyc.py", CYCLE)
    folder = path.parent

    result = invoke("dags", "test", "cyc")

    assert one_error_line(result) == (
        f"Error: DAG 'cyc' failed to import: dags/cyc.py:6: DAG 'cyc' has a cycle: a >> b >> a;"
        f" see `sluice dags list-import-errors --dags-folder {folder}`"
    )


@pytest.mark.parametrize("command", [["dags", "show"], ["tasks", "list"], ["dags", "details"]])
def test_unknown_dag_counts_the_files_that_failed(
    invoke: Invoke, write_dag: WriteDag, tiny_dag: Path, command: list[str]
) -> None:
    write_dag("cyc.py", CYCLE)

    result = invoke(*command, "other")

    assert one_error_line(result) == (
        "Error: DAG 'other' not found. Known: tiny (1 file failed to import;"
        f" see `sluice dags list-import-errors --dags-folder {tiny_dag.parent}`)"
    )
