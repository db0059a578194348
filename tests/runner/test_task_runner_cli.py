"""``sluice tasks run``: one stored instance, run in the command's process as a worker does."""

from __future__ import annotations

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
from tests.runner.conftest import Stored

from sluice.cli.main import cli
from sluice.core.states import TaskInstanceState
from sluice.store import transitions
from sluice.store.tables import AuditLog

S = TaskInstanceState
Invoke = Callable[..., Result]
SLUICE = Path(sys.executable).parent / "sluice"

DAG_SOURCE = """
with DAG("cli", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def ok():
        print("ok ran")
    @task(retries=1, retry_delay=timedelta(seconds=1))
    def bad():
        raise RuntimeError("bad ran")
    @task
    def numbers():
        return [1, 2]
    @task
    def each(n):
        return n
    @task
    def slow():
        time.sleep(30)
    ok() >> each.expand(n=numbers())
    bad()
    slow()
"""


def _env(stored: Stored, tmp_path: Path) -> dict[str, str]:
    return {
        "SLUICE_HOME": str(tmp_path / "home"),
        "SLUICE__DATABASE__SQL_ALCHEMY_CONN": stored.store.url,
        "SLUICE__LOGGING__BASE_LOG_FOLDER": str(stored.settings.base_log_folder),
        "SLUICE__CORE__LOAD_EXAMPLES": "false",
        "COLUMNS": "300",
    }


@pytest.fixture
def invoke(stored: Stored, tmp_path: Path) -> Invoke:
    """Run ``sluice ARGS`` against the test database."""
    env = _env(stored, tmp_path)

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return run


@pytest.fixture
def run_id(stored: Stored) -> str:
    """A run of DAG 'cli', nothing run yet."""
    stored.write("cli.py", DAG_SOURCE)
    return stored.trigger("cli")


def test_runs_the_instance_and_prints_its_log_and_state(
    stored: Stored, invoke: Invoke, run_id: str
) -> None:
    result = invoke("tasks", "run", "cli", "ok", run_id)
    assert result.exit_code == 0, result.output
    log = Path(stored.settings.base_log_folder)
    path = log / "dag_id=cli" / f"run_id={run_id}" / "task_id=ok" / "attempt=1.log"
    assert f"Log: {path}" in result.output
    assert f"Task ok of run '{run_id}': success (try 1/1)" in result.output
    assert "ok ran" in path.read_text()
    assert "ok ran" not in result.output
    assert stored.ti("cli", run_id, "ok").state == S.SUCCESS
    with stored.store.transaction() as session:
        events = session.scalars(select(AuditLog.event).where(AuditLog.task_id == "ok"))
        assert list(events) == ["cli_tasks_run"]


def test_a_failed_try_exits_1_and_the_next_run_is_the_next_try(
    stored: Stored, invoke: Invoke, run_id: str
) -> None:
    result = invoke("tasks", "run", "cli", "bad", run_id)
    assert result.exit_code == 1
    assert "up_for_retry (try 1/2)" in result.output
    result = invoke("tasks", "run", "cli", "bad", run_id)
    assert result.exit_code == 1
    assert "failed (try 2/2)" in result.output
    assert "attempt=2.log" in result.output


def test_a_mapped_instance_runs_by_map_index(stored: Stored, invoke: Invoke, run_id: str) -> None:
    invoke("tasks", "run", "cli", "ok", run_id)
    invoke("tasks", "run", "cli", "numbers", run_id)
    refused = invoke("tasks", "run", "cli", "each", run_id)
    assert refused.exit_code == 1
    assert "is mapped and not expanded yet" in refused.output
    assert stored.ti("cli", run_id, "each").state is None
    stored.expand("cli", run_id, "each", 2)
    result = invoke("tasks", "run", "cli", "each", run_id, "--map-index", "1")
    assert result.exit_code == 0, result.output
    assert "Task each[1]" in result.output and "map_index=1" in result.output
    assert stored.ti("cli", run_id, "each", 1).state == S.SUCCESS


def test_a_queued_instance_runs_as_it_is(stored: Stored, invoke: Invoke, run_id: str) -> None:
    stored.queue("cli", run_id, "ok")
    assert invoke("tasks", "run", "cli", "ok", run_id).exit_code == 0
    assert stored.ti("cli", run_id, "ok").state == S.SUCCESS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "ok", "RUN"), "DAG 'nope' not found in the database"),
        (("cli", "ok", "no-such-run"), "Run 'no-such-run' not found in DAG 'cli'"),
        (("cli", "okk", "RUN"), "Task 'okk' not found in run"),
        (("cli", "ok", "RUN", "--map-index", "3"), "Task 'ok' has no map index 3"),
    ],
)
def test_unknown_ids_are_refused_and_change_nothing(
    stored: Stored, invoke: Invoke, run_id: str, args: tuple[str, ...], message: str
) -> None:
    args = tuple(run_id if a == "RUN" else a for a in args)
    result = invoke("tasks", "run", *args)
    assert result.exit_code == 1
    assert f"Error: {message}" in result.output
    assert stored.ti("cli", run_id, "ok").state is None
    assert stored.tries("cli", "ok") == []


def test_a_bad_map_index_is_a_usage_error(invoke: Invoke, run_id: str) -> None:
    result = invoke("tasks", "run", "cli", "ok", run_id, "--map-index", "-5")
    assert result.exit_code == 2
    assert "-5 is not in the range x>=-1" in result.output


def test_running_and_finished_instances_are_refused(
    stored: Stored, invoke: Invoke, run_id: str
) -> None:
    invoke("tasks", "run", "cli", "ok", run_id)
    result = invoke("tasks", "run", "cli", "ok", run_id)
    assert result.exit_code == 1
    assert "Error: Task 'ok' of run" in result.output
    assert "is success; clear it first: sluice tasks clear cli --task-regex '^ok$' --yes" in (
        result.output
    )
    assert len(stored.tries("cli", "ok")) == 1

    workload = stored.queue("cli", run_id, "slow")
    with stored.store.transaction() as session:
        ti = stored.ti_row(session, "cli", run_id, "slow")
        transitions.mark_running(session, ti.id, transitions.TryStart(1, "elsewhere", 4242))
    result = invoke("tasks", "run", "cli", "slow", run_id)
    assert result.exit_code == 1
    assert "is already running (pid 4242 on elsewhere)" in result.output
    assert workload.try_number == 1 and stored.tries("cli", "slow") == []


def test_sigterm_stops_the_task_and_still_writes_the_outcome(
    stored: Stored, tmp_path: Path, run_id: str
) -> None:
    env = {**os.environ, **_env(stored, tmp_path)}
    command = [str(SLUICE), "tasks", "run", "cli", "slow", run_id]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while stored.ti("cli", run_id, "slow").state != S.RUNNING:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the task did not start: {process.communicate(timeout=5)}")
            time.sleep(0.05)
        time.sleep(0.3)  # into the task's sleep
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, (out, err)
    ti = stored.ti("cli", run_id, "slow")
    assert ti.state == S.FAILED
    (attempt,) = stored.tries("cli", "slow")
    assert attempt.error == "TaskTerminated: task 'slow' was stopped (SIGTERM)"
    assert b"failed (try 1/1)" in out
