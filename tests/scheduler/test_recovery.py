"""Tries whose process died: noticed at once from the executor, or from heartbeats."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from tests.scheduler.conftest import Harness

from sluice.scheduler.recovery import recover
from sluice.scheduler.runs import create_dag_run
from sluice.scheduler.serialized_dags import SerializedDagCache
from sluice.store import jobs, transitions
from sluice.store.tables import Job, TaskInstance

VICTIM = """
with DAG("victim", schedule=None, start_date=START) as dag:
    def work(ti):
        if ti.try_number == 1:
            time.sleep(60)

    PythonOperator(task_id="work", python_callable=work, retries={retries},
                   retry_delay=timedelta(seconds=0))
"""
WHEN = datetime(2024, 3, 1, tzinfo=UTC)


def _run(harness: Harness, dag_id: str) -> str:
    with harness.store.transaction() as session:
        dag = SerializedDagCache().get(session, dag_id)
        assert dag is not None
        run = create_dag_run(
            session, dag, run_type="manual", logical_date=WHEN, data_interval=(WHEN, WHEN)
        )
        return run.run_id


def _ti(harness: Harness, dag_id: str, task_id: str) -> TaskInstance:
    with harness.store.transaction() as session:
        ti = session.scalar(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id
            )
        )
        assert ti is not None
        return ti


def _kill_first_try(harness: Harness, killed: list[datetime]) -> Callable[[], None]:
    """A pass hook that SIGKILLs the victim's first try once it runs (noting when in ``killed``)."""

    def kill() -> None:
        ti = _ti(harness, "victim", "work")
        if not killed and ti.state == "running" and ti.try_number == 1 and ti.pid:
            os.kill(ti.pid, signal.SIGKILL)
            killed.append(datetime.now(UTC))

    return kill


def test_a_killed_task_process_goes_into_its_retry_path_at_once(harness: Harness) -> None:
    harness.write("victim.py", VICTIM.format(retries=1))
    harness.parse()
    _run(harness, "victim")
    killed: list[datetime] = []
    harness.drive(
        harness.job(), harness.run_finished("victim"), on_pass=_kill_first_try(harness, killed)
    )
    assert [r.state for r in harness.runs("victim")] == ["success"]
    tries = sorted(harness.tries("victim"), key=lambda t: t.try_number)
    assert [(t.try_number, t.state) for t in tries] == [(1, "up_for_retry"), (2, "success")]
    assert tries[0].exit_code == -signal.SIGKILL
    assert tries[0].error is not None and "signal 9" in tries[0].error
    # Noticed from the executor's event, not after a heartbeat timeout.
    assert tries[1].start_date is not None
    assert tries[1].start_date - killed[0] < timedelta(seconds=3)


def test_a_killed_task_without_retries_fails_the_run(harness: Harness) -> None:
    harness.write("victim.py", VICTIM.format(retries=0))
    harness.parse()
    _run(harness, "victim")
    harness.drive(
        harness.job(), harness.run_finished("victim"), on_pass=_kill_first_try(harness, [])
    )
    assert [r.state for r in harness.runs("victim")] == ["failed"]
    assert harness.states("victim") == {f"{harness.runs('victim')[0].run_id}|work": "failed"}


def _job(harness: Harness, *, pid: int, hostname: str, heartbeat: datetime) -> int:
    with harness.store.transaction() as session:
        job_id = jobs.register_job(session, jobs.SCHEDULER, hostname, pid)
        session.execute(update(Job).where(Job.id == job_id).values(latest_heartbeat=heartbeat))
        return job_id


def _queue(harness: Harness, ti_id: int, job_id: int) -> None:
    with harness.store.transaction() as session:
        assert transitions.mark_scheduled(session, [ti_id]) == [ti_id]
        assert transitions.mark_queued(session, [ti_id], job_id=job_id) == [ti_id]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _recover(harness: Harness, *, job_id: int, job_timeout: float = 60.0) -> None:
    with harness.store.transaction() as session:
        recover(
            session,
            SerializedDagCache(),
            job_id=job_id,
            hostname=socket.gethostname(),
            now=transitions.now(),
            job_timeout=job_timeout,
            task_timeout=5.0,
        )


def test_what_a_dead_scheduler_queued_goes_back_to_scheduled(harness: Harness) -> None:
    harness.write("victim.py", VICTIM.format(retries=0))
    harness.parse()
    _run(harness, "victim")
    ti = _ti(harness, "victim", "work")
    now = datetime.now(UTC)
    me = _job(harness, pid=os.getpid(), hostname=socket.gethostname(), heartbeat=now)
    elsewhere = _job(harness, pid=1, hostname="elsewhere", heartbeat=now)
    _queue(harness, ti.id, elsewhere)
    _recover(harness, job_id=me)  # alive elsewhere: left alone
    assert _ti(harness, "victim", "work").state == "queued"

    # Silent for longer than the job timeout: dead, its queued work is adopted.
    with harness.store.transaction() as session:
        session.execute(
            update(Job)
            .where(Job.id == elsewhere)
            .values(latest_heartbeat=now - timedelta(minutes=5))
        )
    _recover(harness, job_id=me)
    after = _ti(harness, "victim", "work")
    assert (after.state, after.queued_by_job_id, after.try_number) == ("scheduled", None, 0)
    with harness.store.transaction() as session:
        assert session.get(Job, elsewhere).state == jobs.FAILED  # type: ignore[union-attr]


def test_a_crashed_scheduler_on_this_host_is_dead_without_waiting(harness: Harness) -> None:
    harness.write("victim.py", VICTIM.format(retries=0))
    harness.parse()
    _run(harness, "victim")
    ti = _ti(harness, "victim", "work")
    now = datetime.now(UTC)
    me = _job(harness, pid=os.getpid(), hostname=socket.gethostname(), heartbeat=now)
    crashed = _job(harness, pid=_dead_pid(), hostname=socket.gethostname(), heartbeat=now)
    _queue(harness, ti.id, crashed)
    _recover(harness, job_id=me)
    assert _ti(harness, "victim", "work").state == "scheduled"


def test_a_running_try_without_heartbeats_goes_into_its_retry_path(harness: Harness) -> None:
    harness.write("victim.py", VICTIM.format(retries=1))
    harness.parse()
    _run(harness, "victim")
    ti = _ti(harness, "victim", "work")
    me = _job(harness, pid=os.getpid(), hostname=socket.gethostname(), heartbeat=datetime.now(UTC))
    _queue(harness, ti.id, me)
    with harness.store.transaction() as session:
        transitions.mark_running(session, ti.id, transitions.TryStart(1, "gone", 1))
    _recover(harness, job_id=me)
    assert _ti(harness, "victim", "work").state == "running"  # its heartbeat is fresh
    with harness.store.transaction() as session:
        session.execute(
            update(TaskInstance)
            .where(TaskInstance.id == ti.id)
            .values(last_heartbeat_at=datetime.now(UTC) - timedelta(seconds=30))
        )
    _recover(harness, job_id=me)
    after = _ti(harness, "victim", "work")
    assert after.state == "up_for_retry"
    assert after.next_try_at is not None
