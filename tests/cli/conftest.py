"""Fixtures for CLI tests: an isolated SLUICE_HOME, a DAGs folder, and a runner for ``sluice``."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sluice.cli.main import cli

Invoke = Callable[..., Result]
WriteDag = Callable[[str, str], Path]

TINY_DAG = """
from datetime import datetime
from sluice import DAG, TaskGroup, task
from sluice.operators import BashOperator

with DAG("tiny", start_date=datetime(2024, 1, 1), schedule="@daily", tags=["demo"]) as dag:
    @task
    def hello():
        print("hello from a task")
        return {"greeting": "hi"}

    with TaskGroup("grp"):
        echo = BashOperator(task_id="echo", bash_command="echo ds={{ ds }}")

    hello() >> echo
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty SLUICE_HOME."""
    return tmp_path / "home"


@pytest.fixture
def dags_folder(tmp_path: Path) -> Path:
    """An empty DAGs folder, passed with --dags-folder."""
    folder = tmp_path / "dags"
    folder.mkdir()
    return folder


@pytest.fixture
def write_dag(dags_folder: Path) -> WriteDag:
    """Write a DAG file (source dedented) into the DAGs folder."""

    def write(name: str, source: str) -> Path:
        path = dags_folder / name
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture
def tiny_dag(write_dag: WriteDag) -> Path:
    """The DAG 'tiny': hello >> grp.echo, daily from 2024-01-01."""
    return write_dag("tiny.py", TINY_DAG)


@pytest.fixture
def invoke(home: Path, dags_folder: Path) -> Invoke:
    """Run ``sluice ARGS``; commands given ``folder=True`` get ``--dags-folder``.

    Examples are off unless ``examples=True``; ``env`` adds environment variables.
    """

    def run(
        *args: str,
        folder: bool = True,
        examples: bool = False,
        env: dict[str, str] | None = None,
    ) -> Result:
        full_env = {
            "SLUICE_HOME": str(home),
            "SLUICE__CORE__LOAD_EXAMPLES": "true" if examples else "false",
            "COLUMNS": "300",
            **(env or {}),
        }
        extra = ["--dags-folder", str(dags_folder)] if folder else []
        return CliRunner().invoke(cli, [*args, *extra], env=full_env, catch_exceptions=False)

    return run
