"""Jobs: the long-running processes (schedulers, DAG processors, workers) and their heartbeats.

A job writes a heartbeat every ``job_heartbeat_interval``; one whose heartbeat is older than
``job_heartbeat_timeout`` is dead, and another process takes over what it held. Taking over
starts with ``mark_job_dead``, a compare-and-set, so that only one survivor adopts a dead
job's work.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sluice.store.tables import Job

SCHEDULER = "scheduler"
DAG_PROCESSOR = "dag_processor"
WORKER = "worker"

RUNNING = "running"
SUCCESS = "success"
"""Ended cleanly."""
FAILED = "failed"
"""Declared dead by another process (or ended by an error)."""


def _now() -> datetime:
    return datetime.now(UTC)


def register_job(session: Session, job_type: str, hostname: str, pid: int) -> int:
    """Record a job that starts now, with a first heartbeat; return its id."""
    stamp = _now()
    job = Job(
        job_type=job_type,
        state=RUNNING,
        hostname=hostname,
        pid=pid,
        start_date=stamp,
        latest_heartbeat=stamp,
    )
    session.add(job)
    session.flush()
    return job.id


def heartbeat_job(session: Session, job_id: int) -> bool:
    """Write a heartbeat; False when the job is no longer running (another process declared
    it dead), in which case it must stop, because its work was handed to someone else."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == RUNNING)
        .values(latest_heartbeat=_now())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def end_job(session: Session, job_id: int, *, failed: bool = False) -> None:
    """Record that a job stopped (cleanly unless ``failed``)."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == RUNNING)
        .values(state=FAILED if failed else SUCCESS, end_date=_now())
        .execution_options(synchronize_session=False)
    )


def dead_jobs(session: Session, job_type: str, older_than: datetime) -> list[Job]:
    """Running jobs of ``job_type`` whose latest heartbeat is before ``older_than``."""
    query = (
        select(Job)
        .where(Job.job_type == job_type, Job.state == RUNNING, Job.latest_heartbeat < older_than)
        .order_by(Job.id)
    )
    return list(session.scalars(query))


def mark_job_dead(session: Session, job_id: int) -> bool:
    """Declare a running job dead; True only for the one caller that made the change."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == RUNNING)
        .values(state=FAILED, end_date=_now())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def latest_heartbeat(session: Session, job_type: str) -> datetime | None:
    """The newest heartbeat of any running job of ``job_type`` (None when none runs)."""
    return session.scalar(
        select(func.max(Job.latest_heartbeat)).where(Job.job_type == job_type, Job.state == RUNNING)
    )
