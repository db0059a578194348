"""``sluice dag-processor`` and ``sluice dags report``, through the real command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from tests.processor.conftest import DAILY, WriteDag

from sluice.cli.main import cli
from sluice.store.engine import Store
from sluice.store.tables import Dag, Job

Invoke = Callable[..., Result]

SLOW = DAILY.replace(
    "from sluice import DAG", "import time\nfrom sluice import DAG\ntime.sleep(0.3)"
)


@pytest.fixture
def env(tmp_path: Path, store: Store, dags_dir: Path) -> dict[str, str]:
    """Settings that point the command at the test database and DAGs folder."""
    return {
        "SLUICE_HOME": str(tmp_path / "home"),
        "SLUICE__DATABASE__SQL_ALCHEMY_CONN": store.engine.url.render_as_string(
            hide_password=False
        ),
        "SLUICE__CORE__DAGS_FOLDER": str(dags_dir),
        "SLUICE__CORE__LOAD_EXAMPLES": "false",
        "SLUICE__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "SLUICE__DAG_PROCESSOR__REFRESH_INTERVAL": "0.2",
        "COLUMNS": "300",
    }


@pytest.fixture
def invoke(env: dict[str, str]) -> Invoke:
    """Run ``sluice ARGS`` in this process."""

    def run(*args: str, **extra: str) -> Result:
        return CliRunner().invoke(cli, list(args), env={**env, **extra}, catch_exceptions=False)

    return run


def _dag_ids(store: Store) -> list[str]:
    with store.transaction() as session:
        return list(session.scalars(select(Dag.dag_id).order_by(Dag.dag_id)))


def test_dag_processor_once_parses_then_finds_nothing_new(
    store: Store, write_dag: WriteDag, invoke: Invoke
) -> None:
    write_dag("daily.py", DAILY, dag_id="daily")

    first = invoke("dag-processor", "--once")
    again = invoke("dag-processor", "--once")

    assert first.exit_code == 0, first.output
    assert "Parsed 1 of 1 DAG file in" in first.stdout
    assert "DAGs 1 added" in first.stdout
    assert _dag_ids(store) == ["daily"]
    assert again.exit_code == 0
    assert again.stdout.startswith("No changes in 1 DAG file")


def test_dag_processor_once_shows_import_errors(write_dag: WriteDag, invoke: Invoke) -> None:
    write_dag("broken.py", "import sluice  # dag\n1 / 0\n")

    result = invoke("dag-processor", "--once")

    assert result.exit_code == 0
    assert "1 import error" in result.stdout
    assert "Import error:" in result.stderr
    assert "ZeroDivisionError: division by zero" in result.stderr


def test_dags_report_lists_files_slowest_first(
    store: Store, dags_dir: Path, write_dag: WriteDag, invoke: Invoke
) -> None:
    write_dag("fast.py", DAILY, dag_id="fast")
    write_dag("slow.py", SLOW, dag_id="slow")
    write_dag("broken.py", "import sluice  # dag\nraise ValueError('nope')\n")
    assert invoke("dag-processor", "--once").exit_code == 0

    table = invoke("dags", "report")
    as_json = invoke("dags", "report", "--output", "json")
    plain = invoke("dags", "report", "-o", "plain")

    assert table.exit_code == 0
    assert table.stdout.index("slow.py") < table.stdout.index("fast.py")
    rows = json.loads(as_json.stdout)
    assert rows[0]["file"] == str(dags_dir / "slow.py")
    assert rows[0]["duration"] >= 0.3
    assert (rows[0]["dag_count"], rows[0]["task_count"], rows[0]["dags"]) == (1, 2, ["slow"])
    broken = next(r for r in rows if r["file"].endswith("broken.py"))
    assert "ValueError: nope" in broken["error"]
    assert broken["dag_count"] == 0
    assert [r["duration"] for r in rows] == sorted((r["duration"] for r in rows), reverse=True)
    assert plain.stdout.splitlines()[0].split("\t")[0] == str(dags_dir / "slow.py")


def test_dags_report_before_any_parse_says_how_to_fill_it(invoke: Invoke) -> None:
    result = invoke("dags", "report")

    assert result.exit_code == 0
    assert "No DAG files parsed yet" in result.stdout


def test_dags_report_refresh_parses_first(write_dag: WriteDag, invoke: Invoke) -> None:
    write_dag("daily.py", DAILY, dag_id="daily")

    result = invoke("dags", "report", "--refresh", "-o", "json")

    assert result.exit_code == 0
    assert [row["dags"] for row in json.loads(result.stdout)] == [["daily"]]


def test_bad_inputs_give_one_clear_error_and_change_nothing(
    store: Store, tmp_path: Path, write_dag: WriteDag, invoke: Invoke
) -> None:
    write_dag("daily.py", DAILY, dag_id="daily")

    bad_output = invoke("dags", "report", "--output", "xml")
    missing_folder = invoke(
        "dag-processor", "--once", SLUICE__CORE__DAGS_FOLDER=str(tmp_path / "nowhere")
    )
    missing_folder_forever = invoke(
        "dag-processor", SLUICE__CORE__DAGS_FOLDER=str(tmp_path / "nowhere")
    )
    unmigrated = invoke(
        "dag-processor",
        "--once",
        SLUICE__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'empty.db'}",
    )
    bad_interval = invoke("dag-processor", "--once", SLUICE__DAG_PROCESSOR__REFRESH_INTERVAL="0")

    assert bad_output.exit_code == 2
    assert "Invalid value for '--output'" in bad_output.stderr
    assert missing_folder.exit_code == 1
    assert missing_folder.stderr.strip() == f"Error: DAGs folder not found: {tmp_path / 'nowhere'}"
    assert missing_folder_forever.exit_code == 1
    assert missing_folder_forever.stderr == missing_folder.stderr
    assert unmigrated.exit_code == 1
    assert "no Sluice schema; run `sluice db migrate`" in unmigrated.stderr
    assert bad_interval.exit_code == 1
    assert "[dag_processor] refresh_interval" in bad_interval.stderr
    for result in (missing_folder, unmigrated, bad_interval):
        assert len(result.stderr.strip().splitlines()) == 1
    assert _dag_ids(store) == []
    with store.transaction() as session:
        assert session.scalars(select(Job)).all() == []


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_dag_processor_runs_until_signalled_and_records_its_job(
    store: Store, env: dict[str, str], write_dag: WriteDag, stop_signal: signal.Signals
) -> None:
    write_dag("daily.py", DAILY, dag_id="daily")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "sluice"), "dag-processor"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while _dag_ids(store) != ["daily"] and time.monotonic() < deadline:
            time.sleep(0.05)
        write_dag("later.py", DAILY, dag_id="later")  # seen by a later scan
        while _dag_ids(store) != ["daily", "later"] and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(stop_signal)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, stderr
    lines = stdout.splitlines()
    assert lines[0].startswith("DAG processor scanning")
    assert [line.split(" in ")[0] for line in lines[1:3]] == [
        "Parsed 1 of 1 DAG file",
        "Parsed 1 of 2 DAG files",
    ]
    assert lines[-1] == "DAG processor stopped."
    with store.transaction() as session:
        [job] = session.scalars(select(Job).where(Job.job_type == "dag_processor"))
        assert job.state == "success"
        assert job.end_date is not None
