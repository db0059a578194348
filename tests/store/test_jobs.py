"""Jobs and their heartbeats, and the audit log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from sluice.store import jobs
from sluice.store.audit import log_event
from sluice.store.engine import Store
from sluice.store.tables import AuditLog, Job


def _age(store: Store, job_id: int, seconds: float) -> None:
    """Pretend the job's last heartbeat was ``seconds`` ago."""
    with store.transaction() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(latest_heartbeat=datetime.now(UTC) - timedelta(seconds=seconds))
        )


def test_register_heartbeat_and_end(store: Store) -> None:
    with store.transaction() as session:
        job_id = jobs.register_job(session, jobs.SCHEDULER, "host-a", 123)
    _age(store, job_id, 30)
    with store.transaction() as session:
        assert jobs.heartbeat_job(session, job_id) is True
    with store.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.state == jobs.RUNNING
        assert (job.hostname, job.pid) == ("host-a", 123)
        assert datetime.now(UTC) - job.latest_heartbeat < timedelta(seconds=5)
        jobs.end_job(session, job_id)
    with store.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.state == jobs.SUCCESS and job.end_date is not None
        assert jobs.heartbeat_job(session, job_id) is False


def test_dead_jobs_are_those_whose_heartbeat_stopped(store: Store) -> None:
    with store.transaction() as session:
        alive = jobs.register_job(session, jobs.SCHEDULER, "h", 1)
        dead = jobs.register_job(session, jobs.SCHEDULER, "h", 2)
        other_type = jobs.register_job(session, jobs.DAG_PROCESSOR, "h", 3)
        ended = jobs.register_job(session, jobs.SCHEDULER, "h", 4)
        jobs.end_job(session, ended, failed=True)
    for job_id in (dead, other_type, ended):
        _age(store, job_id, 120)
    cutoff = datetime.now(UTC) - timedelta(seconds=60)

    with store.transaction() as session:
        found = jobs.dead_jobs(session, jobs.SCHEDULER, older_than=cutoff)
    assert [job.id for job in found] == [dead]
    assert alive not in [job.id for job in found]


def test_only_one_survivor_declares_a_job_dead(store: Store) -> None:
    with store.transaction() as session:
        job_id = jobs.register_job(session, jobs.SCHEDULER, "h", 1)
    with store.transaction() as session:
        assert jobs.mark_job_dead(session, job_id) is True
    with store.transaction() as session:
        assert jobs.mark_job_dead(session, job_id) is False
        # The dead job learns on its next heartbeat that it must stop.
        assert jobs.heartbeat_job(session, job_id) is False
        job = session.get(Job, job_id)
        assert job is not None and job.state == jobs.FAILED


def test_latest_heartbeat_of_running_jobs(store: Store) -> None:
    with store.transaction() as session:
        assert jobs.latest_heartbeat(session, jobs.SCHEDULER) is None
        older = jobs.register_job(session, jobs.SCHEDULER, "h", 1)
        newer = jobs.register_job(session, jobs.SCHEDULER, "h", 2)
    _age(store, older, 100)
    _age(store, newer, 10)
    with store.transaction() as session:
        stamp = jobs.latest_heartbeat(session, jobs.SCHEDULER)
        newer_job = session.get(Job, newer)
    assert newer_job is not None and stamp == newer_job.latest_heartbeat
    assert stamp is not None and stamp.tzinfo is UTC
    with store.transaction() as session:
        jobs.end_job(session, newer)
        jobs.end_job(session, older)
    with store.transaction() as session:
        assert jobs.latest_heartbeat(session, jobs.SCHEDULER) is None


def test_log_event(store: Store) -> None:
    with store.transaction() as session:
        log_event(session, "cli_pools_set", "alice", extra={"pool": "db", "slots": 3})
        log_event(session, "trigger", None, dag_id="d", run_id="r", task_id="t", extra="by API")
    with store.transaction() as session:
        rows = session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
    assert [(r.event, r.owner, r.dag_id) for r in rows] == [
        ("cli_pools_set", "alice", None),
        ("trigger", None, "d"),
    ]
    assert json.loads(rows[0].extra or "") == {"pool": "db", "slots": 3}
    assert rows[1].extra == "by API" and rows[1].dttm.tzinfo is UTC
