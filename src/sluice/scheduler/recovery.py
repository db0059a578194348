"""Noticing tries that died: from executor events at once, and from heartbeats on a timer.

A task runner writes its try's outcome itself; the scheduler steps in only when nobody
will: the try's process ended without writing it (an executor event with a non-zero
exit code while the instance is still queued or running), the instance stayed queued by
a scheduler that died (its workload is lost: back to scheduled), or a running instance
stopped heart-beating (its process or machine is gone: into the retry path). Every move
is a compare-and-set, so a runner that is in fact alive and a recovering scheduler never
both win: a task never runs twice at the same time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from sluice.core.errors import TransitionError
from sluice.core.messages import CallbackWorkload, RunnerExit, TaskEvent, TaskInstanceKey
from sluice.core.states import TaskInstanceState
from sluice.parsing.serialized import SerializedDag
from sluice.scheduler.retries import retry_at
from sluice.scheduler.serialized_dags import SerializedDagCache
from sluice.store import jobs, task_tries, transitions
from sluice.store.run_queries import get_run
from sluice.store.tables import TaskInstance
from sluice.store.task_instances import by_keys, queued_by_stopped_jobs, silent_running

log = logging.getLogger("sluice.scheduler")

S = TaskInstanceState
_NOTHING_TO_DO = (RunnerExit.OUTCOME_WRITTEN, RunnerExit.NOT_QUEUED, RunnerExit.TAKEN_AWAY)
"""Exit codes after which the database already says what happened (or nothing ran)."""


def apply_events(
    session: Session,
    dags: SerializedDagCache,
    events: Sequence[TaskEvent],
    *,
    job_id: int,
    callbacks: list[CallbackWorkload] | None = None,
) -> int:
    """Fail the tries whose process ended without writing an outcome; how many were.

    The failed tries' task callbacks go into ``callbacks``, to send once this commits.
    """
    failed = 0
    lost = [e for e in events if e.exit_code not in _NOTHING_TO_DO]
    if not lost:
        return 0
    keys = [(e.key.dag_id, e.key.run_id, e.key.task_id, e.key.map_index) for e in lost]
    found = by_keys(session, keys)
    for event, key in zip(lost, keys, strict=True):
        ti = found.get(key)
        if ti is None:
            continue
        if ti.state == S.RUNNING.value and ti.try_number == event.try_number:
            why = _why(event)
            log.warning("%s: try %d ended: %s", event.key, event.try_number, why)
            _fail_running(session, dags, ti, exit_code=event.exit_code, why=why, out=callbacks)
            failed += 1
        elif (
            ti.state == S.QUEUED.value
            and ti.queued_by_job_id == job_id
            and ti.try_number + 1 == event.try_number
        ):
            if event.exit_code is None:
                # Never started (the executor stopped first): no try is used up.
                transitions.requeue_lost(session, [ti.id])
            else:
                log.warning(
                    "%s: try %d never started: %s", event.key, event.try_number, _why(event)
                )
                _fail_unstarted(session, dags, ti, event.try_number)
                failed += 1
    return failed


def _why(event: TaskEvent) -> str:
    if event.exit_code is None:
        return event.message or "its process was lost"
    if event.exit_code < 0:
        return f"killed by signal {-event.exit_code}"
    return f"exit code {event.exit_code}" + (f" ({event.message})" if event.message else "")


def _retry_time(
    session: Session, dags: SerializedDagCache, ti: TaskInstance, try_number: int
) -> datetime | None:
    dag = dags.get(session, ti.dag_id)
    task = dag.tasks.get(ti.task_id) if dag is not None else None
    run = get_run(session, ti.dag_id, ti.run_id)
    return retry_at(
        task,
        dag_id=ti.dag_id,
        logical_date=run.logical_date,
        try_number=try_number,
        max_tries=ti.max_tries,
        now=transitions.now(),
    )


def _fail_running(
    session: Session,
    dags: SerializedDagCache,
    ti: TaskInstance,
    *,
    exit_code: int | None,
    why: str,
    out: list[CallbackWorkload] | None,
) -> None:
    """Fail a running try nobody will finish, close its try row with the reason, and add
    its task's failure or retry callback to ``out`` (as Airflow does for such a try)."""
    retry = _retry_time(session, dags, ti, ti.try_number)
    try:
        transitions.fail_lost_try(session, ti, retry_at=retry)
    except TransitionError:
        return  # the runner wrote its outcome meanwhile
    key = TaskInstanceKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
    state = S.UP_FOR_RETRY if retry is not None and ti.try_number <= ti.max_tries else S.FAILED
    task_tries.record_try_end(
        session,
        key,
        ti.try_number,
        state=state.value,
        end=transitions.now(),
        exit_code=exit_code,
        error=f"the try's process did not finish it: {why}",
    )
    callback = _task_callback(dags.get(session, ti.dag_id), ti, state, why)
    if callback is not None and out is not None:
        out.append(callback)


def _task_callback(
    dag: SerializedDag | None, ti: TaskInstance, state: TaskInstanceState, why: str
) -> CallbackWorkload | None:
    """The workload of the task's on_retry_callback or on_failure_callback, or of its
    email_on_retry / email_on_failure alert, if it has one."""
    task = dag.tasks.get(ti.task_id) if dag is not None else None
    if dag is None or task is None:
        return None
    retry = state is S.UP_FOR_RETRY
    has_callback = task.has_on_retry_callback if retry else task.has_on_failure_callback
    wants_mail = bool(task.email) and (task.email_on_retry if retry else task.email_on_failure)
    if not (has_callback or wants_mail):
        return None
    kind = "retry" if retry else "failure"
    reason = f"the try's process did not finish it: {why}"
    return CallbackWorkload(
        ti.dag_id, ti.run_id, dag.fileloc, kind, reason, ti.task_id, ti.map_index, ti.try_number
    )


def _fail_unstarted(
    session: Session, dags: SerializedDagCache, ti: TaskInstance, try_number: int
) -> None:
    retry = _retry_time(session, dags, ti, try_number)
    try:
        transitions.fail_unstarted_try(session, ti, try_number=try_number, retry_at=retry)
    except TransitionError:
        return  # a runner started it meanwhile after all


@dataclass(frozen=True)
class Recovered:
    """What one recovery pass did."""

    dead_jobs: list[int]
    requeued: int
    failed: int
    callbacks: list[CallbackWorkload] = field(default_factory=list)
    """The failed tries' task callbacks, to send once this commits."""


def recover(
    session: Session,
    dags: SerializedDagCache,
    *,
    job_id: int,
    hostname: str,
    now: datetime,
    job_timeout: float,
    task_timeout: float,
) -> Recovered:
    """Adopt what dead schedulers left queued, and fail running tries that went silent."""
    dead: list[int] = []
    for job in jobs.dead_jobs(session, jobs.SCHEDULER, now + timedelta(days=1)):
        if job.id == job_id:
            continue
        silent = job.latest_heartbeat < now - timedelta(seconds=job_timeout)
        # On this machine a scheduler whose process is gone is dead now, not after the
        # timeout: that is a restart after a crash.
        gone = job.hostname == hostname and job.pid is not None and not _alive(job.pid)
        if (silent or gone) and jobs.mark_job_dead(session, job.id):
            log.warning("scheduler job %d (pid %s on %s) is dead", job.id, job.pid, job.hostname)
            dead.append(job.id)
    lost = queued_by_stopped_jobs(session)
    requeued = transitions.requeue_lost(session, [ti.id for ti in lost])
    failed = 0
    callbacks: list[CallbackWorkload] = []
    for ti in silent_running(session, now - timedelta(seconds=task_timeout)):
        why = f"no heartbeat for {task_timeout:g} s"
        log.warning("%s.%s (%s): %s", ti.dag_id, ti.task_id, ti.run_id, why)
        _fail_running(session, dags, ti, exit_code=None, why=why, out=callbacks)
        failed += 1
    return Recovered(dead, len(requeued), failed, callbacks)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process has the pid now; assume the worst
    return True
