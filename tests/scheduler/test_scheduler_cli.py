"""`sluice scheduler` and `sluice standalone` as real processes: crash, restart, two at once."""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.scheduler.conftest import Harness

from sluice.scheduler.runs import create_dag_run
from sluice.scheduler.serialized_dags import SerializedDagCache
from sluice.store import jobs
from sluice.store.pools import set_pool
from sluice.store.tables import Job, TaskInstance
from sluice.store.transitions import now

SLUICE = str(Path(sys.executable).with_name("sluice"))


def _env(harness: Harness, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE")}
    env.update(
        SLUICE_HOME=str(harness.tmp / "home"),
        SLUICE__DATABASE__SQL_ALCHEMY_CONN=harness.store.url,
        SLUICE__CORE__DAGS_FOLDER=str(harness.folder),
        SLUICE__CORE__LOAD_EXAMPLES="false",
        SLUICE__CORE__PARALLELISM="4",
        SLUICE__LOGGING__BASE_LOG_FOLDER=str(harness.tmp / "logs"),
        SLUICE__SCHEDULER__TASK_HEARTBEAT_INTERVAL="0.2",
        SLUICE__SCHEDULER__JOB_HEARTBEAT_INTERVAL="0.5",
    )
    env.update(extra)
    return env


@contextmanager
def _process(
    harness: Harness, *args: str, name: str, **env: str
) -> Iterator[subprocess.Popen[str]]:
    """A sluice command in the background, its output in ``<tmp>/<name>.out``; killed at exit."""
    out = (harness.tmp / f"{name}.out").open("w")
    proc = subprocess.Popen(
        [SLUICE, *args], env=_env(harness, **env), stdout=out, stderr=subprocess.STDOUT, text=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()


def _output(harness: Harness, name: str) -> str:
    return (harness.tmp / f"{name}.out").read_text()


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _trigger(harness: Harness, dag_id: str, count: int = 1) -> list[str]:
    with harness.store.transaction() as session:
        dag = SerializedDagCache().get(session, dag_id)
        assert dag is not None
        run_ids = []
        for _ in range(count):
            when = now()
            run = create_dag_run(
                session, dag, run_type="manual", logical_date=when, data_interval=(when, when)
            )
            run_ids.append(run.run_id)
        return run_ids


def _count(harness: Harness, dag_id: str, state: str) -> int:
    with harness.store.transaction() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    TaskInstance.dag_id == dag_id, TaskInstance.state == state
                )
            )
            or 0
        )


def _each_try_ran_once(harness: Harness, dag_id: str) -> None:
    """Every instance succeeded in its first try, which started once and logged once."""
    instances = harness.instances(dag_id)
    assert {(ti.state, ti.try_number) for ti in instances} == {("success", 1)}
    tries = Counter((t.run_id, t.task_id, t.map_index, t.try_number) for t in harness.tries(dag_id))
    assert len(tries) == len(instances) and set(tries.values()) == {1}
    for log in (harness.tmp / "logs").glob(f"dag_id={dag_id}/**/*.log"):
        assert log.name == "attempt=1.log"
        assert len(re.findall(r"INFO - Running ", log.read_text())) == 1, log


CHAIN = """
with DAG("crash", schedule=None, start_date=START) as dag:
    previous = None
    for i in range(10):
        current = PythonOperator(task_id=f"t{i}", python_callable=lambda: time.sleep(0.4))
        if previous is not None:
            previous >> current
        previous = current
"""


def test_a_scheduler_killed_mid_run_finishes_it_after_a_restart_running_nothing_twice(
    harness: Harness,
) -> None:
    harness.write("crash.py", CHAIN)
    harness.parse()
    _trigger(harness, "crash")
    with _process(harness, "scheduler", name="first") as first:
        _wait(lambda: _count(harness, "crash", "success") >= 4, 60, "4 tasks to succeed")
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert _count(harness, "crash", "success") < 10
    with _process(harness, "scheduler", name="second") as second:
        _wait(harness.run_finished("crash"), 60, "the run to finish")
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, _output(harness, "second")
    assert [r.state for r in harness.runs("crash")] == ["success"]
    _each_try_ran_once(harness, "crash")


WIDE = """
with DAG("wide", schedule=None, start_date=START) as dag:
    for i in range(12):
        PythonOperator(task_id=f"w{i}", pool="shared", python_callable=lambda: time.sleep(0.1))
"""


def test_two_schedulers_share_the_work_and_never_queue_an_instance_twice(
    harness: Harness,
) -> None:
    if harness.store.backend == "sqlite":
        pytest.skip("SQLite runs one scheduler at a time")
    harness.write("wide.py", WIDE)
    harness.parse()
    with harness.store.transaction() as session:
        set_pool(session, "shared", 3)
    _trigger(harness, "wide", count=6)
    with (
        _process(harness, "scheduler", name="a") as a,
        _process(harness, "scheduler", name="b") as b,
    ):
        _wait(harness.run_finished("wide", 6), 120, "every run to finish")
        for proc in (a, b):
            proc.send_signal(signal.SIGTERM)
        assert a.wait(30) == 0, _output(harness, "a")
        assert b.wait(30) == 0, _output(harness, "b")
    assert {r.state for r in harness.runs("wide")} == {"success"}
    _each_try_ran_once(harness, "wide")
    spans = sorted(
        (ti.start_date.timestamp(), 1) if i == 0 else (ti.end_date.timestamp(), -1)
        for ti in harness.instances("wide")
        if ti.start_date and ti.end_date
        for i in (0, 1)
    )
    running = most = 0
    for _, step in spans:
        running += step
        most = max(most, running)
    assert most <= 3  # the pool's slots, across both schedulers
    with harness.store.transaction() as session:
        queued_by = Counter(session.scalars(select(TaskInstance.queued_by_job_id)))
        print(f"\ninstances queued per scheduler job: {dict(queued_by)}")
        schedulers = list(session.scalars(select(Job).where(Job.job_type == jobs.SCHEDULER)))
    # SKIP LOCKED hands each run to whichever scheduler gets it first; usually both take
    # part, but one may win every race on a busy machine, so only "no one else" is checked.
    assert len(schedulers) == 2 and set(queued_by) <= {job.id for job in schedulers}
    assert {job.state for job in schedulers} == {jobs.SUCCESS}


def test_sigterm_stops_the_scheduler_cleanly(harness: Harness) -> None:
    with _process(harness, "scheduler", "--executor", "sequential", name="s") as proc:
        _wait(lambda: "Ctrl-C stops it" in _output(harness, "s"), 30, "the scheduler to start")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert "Scheduler stopped." in _output(harness, "s")
    with harness.store.transaction() as session:
        (job,) = session.scalars(select(Job))
    assert (job.job_type, job.state) == (jobs.SCHEDULER, jobs.SUCCESS)


def _run_cli(harness: Harness, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SLUICE, *args], env=_env(harness, **env), capture_output=True, text=True, timeout=60
    )


def test_bad_inputs_give_one_clear_error_and_change_nothing(harness: Harness) -> None:
    result = _run_cli(harness, "scheduler", "--executor", "celery")
    assert result.returncode == 2
    assert "Invalid value for '--executor'" in result.stderr
    empty = harness.tmp / "empty.db"
    result = _run_cli(harness, "scheduler", SLUICE__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{empty}")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and "sluice db migrate" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = _run_cli(harness, "standalone", SLUICE__DATABASE__SQL_ALCHEMY_CONN="nonsense://x")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and "nonsense" in result.stderr
    with harness.store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_standalone_migrates_parses_schedules_and_stops_on_ctrl_c(harness: Harness) -> None:
    if harness.store.backend != "sqlite":
        pytest.skip("standalone is the SQLite quick start")
    harness.write(
        "hello.py",
        """
        with DAG("hello", schedule="@daily", start_date=START, catchup=False) as dag:
            BashOperator(task_id="hi", bash_command="echo hi")
        """,
    )
    database = harness.tmp / "standalone.db"
    port = _free_port()
    settings = {
        "SLUICE__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{database}",
        "SLUICE__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false",
    }
    args = ("standalone", "--port", str(port))
    with _process(harness, *args, name="standalone", **settings) as proc:
        _wait(lambda: "Ctrl-C stops everything" in _output(harness, "standalone"), 60, "start")
        text = _output(harness, "standalone")
        processor = int(re.search(r"DAG processor: pid (\d+)", text)[1])  # type: ignore[index]
        web = int(re.search(r"web UI: +http://localhost:\d+ \(pid (\d+)\)", text)[1])  # type: ignore[index]
        password = re.search(r"user admin, password (\S+)", text)[1]  # type: ignore[index]
        home = Path(_env(harness)["SLUICE_HOME"])
        assert (home / "standalone_admin_password.txt").read_text().strip() == password
        _wait(lambda: _http_status(port, "/api/v1/health") == 200, 30, "the web server")
        assert _http_status(port, "/api/v1/dags", auth=("admin", password)) == 200
        assert _http_status(port, "/api/v1/dags", auth=("admin", "wrong-password")) == 401
        _wait(lambda: "hello" in _output(harness, "standalone"), 60, "a run of 'hello'")
        _wait(
            lambda: (
                "Marked" in "".join(p.read_text() for p in (harness.tmp / "logs").rglob("*.log"))
            ),
            60,
            "the task to run",
        )
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, _output(harness, "standalone")
    text = _output(harness, "standalone")
    assert "(migrated)" in text and "Sluice standalone stopped." in text
    assert "created run scheduled__" in text
    for pid in (processor, web):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http_status(port: int, path: str, auth: tuple[str, str] | None = None) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0
