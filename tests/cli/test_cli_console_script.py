"""The installed ``sluice`` console script, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sluice import __version__

SLUICE = Path(sys.executable).parent / "sluice"

DAG_SOURCE = """
from datetime import datetime
from sluice import DAG, task

with DAG("script_dag", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    @task
    def speak():
        print("spoken")
        return 42

    speak()
"""


def _run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLUICE_HOME": str(home), "SLUICE__CORE__LOAD_EXAMPLES": "false"}
    return subprocess.run(
        [str(SLUICE), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_version(tmp_path: Path) -> None:
    result = _run("version", home=tmp_path)

    assert result.returncode == 0
    assert result.stdout.strip() == __version__


def test_dags_test_json(tmp_path: Path) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "script_dag.py").write_text(DAG_SOURCE)

    args = ["dags", "test", "script_dag", "2024-05-01", "-o", "json", "--dags-folder", str(folder)]
    result = _run(*args, home=tmp_path / "home")

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["state"] == "success"
    assert document["task_instances"][0]["state"] == "success"
    assert "spoken" in result.stderr


def test_error_exit_code(tmp_path: Path) -> None:
    result = _run("dags", "show", "nope", "--dags-folder", str(tmp_path), home=tmp_path / "h")

    assert result.returncode == 1
    assert result.stderr == "Error: DAG 'nope' not found; there are none.\n"
    assert "Traceback" not in result.stderr
