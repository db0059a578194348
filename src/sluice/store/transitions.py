"""The only code that changes the state of a task instance or a DAG run.

Each change is one function named for what it does. Every write is a compare-and-set:
``UPDATE ... WHERE id = :id AND state IN (:allowed)``, so two processes racing for the
same row cannot both win (a task is never started twice), and a change the table in
``sluice.core.states`` does not allow is refused. Each function also flags the run as
needing a scheduling decision, which is how the scheduler learns that something moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from sluice.core.errors import TransitionError
from sluice.core.states import (
    RUN_TRANSITIONS,
    TASK_TRANSITIONS,
    DagRunState,
    TaskInstanceState,
    TaskState,
)
from sluice.store.tables import DagRun, TaskInstance

S = TaskInstanceState


def now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


def _sources(to: TaskState) -> list[TaskState]:
    return [old for old, targets in TASK_TRANSITIONS.items() if to in targets]


def _state_in(states: Iterable[TaskState]) -> ColumnElement[bool]:
    values = [s.value for s in states if s is not None]
    condition: ColumnElement[bool] = TaskInstance.state.in_(values)
    if None in states:
        condition = or_(condition, TaskInstance.state.is_(None))
    return condition


def _move(
    session: Session,
    ti_ids: Sequence[int],
    to: TaskState,
    *,
    only_from: Iterable[TaskState] | None = None,
    **values: object,
) -> list[int]:
    """Move the instances that are in an allowed from-state; return the ids that moved."""
    if not ti_ids:
        return []
    allowed = set(_sources(to))
    if only_from is not None:
        allowed &= set(only_from)
    stamp = now()
    where = and_(TaskInstance.id.in_(ti_ids), _state_in(allowed))
    moved = list(session.scalars(select(TaskInstance.id).where(where)))
    if not moved:
        return []
    session.execute(
        update(TaskInstance)
        .where(TaskInstance.id.in_(moved), _state_in(allowed))
        .values(state=to.value if to else None, updated_at=stamp, **values)
        .execution_options(synchronize_session=False)
    )
    _flag_runs(session, moved)
    return moved


def _move_one(
    session: Session, ti_id: int, to: TaskState, *, only_from: Iterable[TaskState], **values: object
) -> None:
    allowed = set(_sources(to)) & set(only_from)
    result = session.execute(
        update(TaskInstance)
        .where(TaskInstance.id == ti_id, _state_in(allowed))
        .values(state=to.value if to else None, updated_at=now(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        current = session.scalar(select(TaskInstance.state).where(TaskInstance.id == ti_id))
        raise TransitionError(
            f"task instance {ti_id} cannot move from {current or 'none'} to {to or 'none'}"
        )
    _flag_runs(session, [ti_id])


def _flag_runs(session: Session, ti_ids: Sequence[int]) -> None:
    # Read the run ids first, then update by primary key only: an UPDATE that found its
    # run through the (dag_id, ...) index would lock that index entry too, and on MySQL
    # deadlock with a scheduler that holds the run's row (SELECT ... FOR UPDATE).
    run_ids = session.scalars(
        select(DagRun.id)
        .join(
            TaskInstance,
            (TaskInstance.dag_id == DagRun.dag_id) & (TaskInstance.run_id == DagRun.run_id),
        )
        .where(TaskInstance.id.in_(ti_ids))
        .distinct()
    ).all()
    if run_ids:
        session.execute(
            update(DagRun)
            .where(DagRun.id.in_(run_ids))
            .values(needs_scheduling=True)
            .execution_options(synchronize_session=False)
        )


# -- task instances: the scheduler's decisions -------------------------------------------


def mark_scheduled(session: Session, ti_ids: Sequence[int]) -> list[int]:
    """Instances whose dependencies are met, waiting for a slot."""
    return _move(
        session, ti_ids, S.SCHEDULED, only_from=[None, S.UP_FOR_RETRY, S.UP_FOR_RESCHEDULE]
    )


def mark_queued(session: Session, ti_ids: Sequence[int], *, job_id: int | None) -> list[int]:
    """Instances handed to the executor; returns those that really moved (others lost a race)."""
    return _move(
        session,
        ti_ids,
        S.QUEUED,
        only_from=[S.SCHEDULED],
        queued_dttm=now(),
        queued_by_job_id=job_id,
    )


def mark_skipped(session: Session, ti_ids: Sequence[int]) -> list[int]:
    """Instances skipped by a trigger rule, a branch or a short-circuit, before they ran."""
    return _move(
        session, ti_ids, S.SKIPPED, only_from=[None, S.SCHEDULED], start_date=now(), end_date=now()
    )


def mark_upstream_failed(session: Session, ti_ids: Sequence[int]) -> list[int]:
    """Instances that cannot run because an upstream task failed."""
    return _move(session, ti_ids, S.UPSTREAM_FAILED, only_from=[None, S.SCHEDULED], end_date=now())


def mark_removed(session: Session, ti_ids: Sequence[int]) -> list[int]:
    """Instances of tasks no longer in the DAG."""
    return _move(session, ti_ids, S.REMOVED, only_from=[None, S.SCHEDULED, S.UP_FOR_RETRY])


def requeue_lost(session: Session, ti_ids: Sequence[int]) -> list[int]:
    """Queued instances whose workload was lost before it started: back to scheduled."""
    return _move(session, ti_ids, S.SCHEDULED, only_from=[S.QUEUED], queued_by_job_id=None)


def reschedule_due(session: Session, ti_ids: Sequence[int]) -> list[int]:
    """Sensors whose reschedule wait is over: scheduled again, to go on with the same try.

    As Airflow 2's reschedule, ``try_number`` steps back by one while the instance waits,
    so that the next workload (``try_number + 1``) continues the try that asked for it.
    """
    return _move(
        session,
        ti_ids,
        S.SCHEDULED,
        only_from=[S.UP_FOR_RESCHEDULE],
        try_number=TaskInstance.try_number - 1,
    )


def fail_before_start(session: Session, ti_ids: Sequence[int]) -> list[int]:
    """Instances that cannot run at all (a mapped task whose input cannot be mapped over)."""
    return _move(session, ti_ids, S.FAILED, only_from=[None, S.SCHEDULED], end_date=now())


def skip_unfinished(session: Session, ti_ids: Sequence[int]) -> list[int]:
    """Unfinished instances of a run that timed out, as Airflow's dagrun_timeout skips them.

    A running one's runner sees on its next heartbeat that the instance is no longer running.
    """
    return _move(
        session,
        ti_ids,
        S.SKIPPED,
        only_from=[None, S.SCHEDULED, S.QUEUED, S.RUNNING, S.UP_FOR_RETRY, S.UP_FOR_RESCHEDULE],
        end_date=now(),
    )


# -- task instances: the runner's report ------------------------------------------------


@dataclass(frozen=True)
class TryStart:
    """Who runs a try."""

    try_number: int
    hostname: str
    pid: int


def mark_running(session: Session, ti_id: int, start: TryStart) -> None:
    """A runner starts a try; raises TransitionError if the instance is not queued."""
    stamp = now()
    _move_one(
        session,
        ti_id,
        S.RUNNING,
        only_from=[S.QUEUED],
        try_number=start.try_number,
        hostname=start.hostname,
        pid=start.pid,
        start_date=stamp,
        end_date=None,
        duration=None,
        last_heartbeat_at=stamp,
        next_try_at=None,
    )


def _finish_values(ti: TaskInstance) -> dict[str, object]:
    end = now()
    start = ti.start_date or end
    return {"end_date": end, "duration": (end - start).total_seconds()}


def mark_success(session: Session, ti: TaskInstance) -> None:
    """A try succeeded."""
    _move_one(session, ti.id, S.SUCCESS, only_from=[S.RUNNING], **_finish_values(ti))


def mark_failed(session: Session, ti: TaskInstance) -> None:
    """A try failed and no retry is left (or the task failed on purpose)."""
    _move_one(session, ti.id, S.FAILED, only_from=[S.RUNNING, S.QUEUED], **_finish_values(ti))


def mark_task_skipped(session: Session, ti: TaskInstance) -> None:
    """The task skipped itself (SkipTask, a skip exit code, a soft-failed sensor)."""
    _move_one(session, ti.id, S.SKIPPED, only_from=[S.RUNNING], **_finish_values(ti))


def schedule_retry(session: Session, ti: TaskInstance, *, next_try_at: datetime) -> None:
    """A try failed and a retry is left: it may run again from ``next_try_at``."""
    _move_one(
        session,
        ti.id,
        S.UP_FOR_RETRY,
        only_from=[S.RUNNING, S.QUEUED],
        next_try_at=next_try_at,
        **_finish_values(ti),
    )


def schedule_reschedule(session: Session, ti: TaskInstance, *, next_try_at: datetime) -> None:
    """A sensor in reschedule mode gives its slot back until ``next_try_at``."""
    _move_one(
        session,
        ti.id,
        S.UP_FOR_RESCHEDULE,
        only_from=[S.RUNNING],
        next_try_at=next_try_at,
        **_finish_values(ti),
    )


def heartbeat(session: Session, ti_id: int, *, pid: int) -> bool:
    """A running try is alive; False if the instance is no longer running for this pid."""
    result = session.execute(
        update(TaskInstance)
        .where(
            TaskInstance.id == ti_id,
            TaskInstance.state == S.RUNNING.value,
            TaskInstance.pid == pid,
        )
        .values(last_heartbeat_at=now())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def fail_lost_try(session: Session, ti: TaskInstance, *, retry_at: datetime | None) -> None:
    """A try whose process died (or whose heartbeat stopped): into the retry path."""
    if retry_at is not None and ti.try_number <= ti.max_tries:
        schedule_retry(session, ti, next_try_at=retry_at)
    else:
        mark_failed(session, ti)


def fail_unstarted_try(
    session: Session, ti: TaskInstance, *, try_number: int, retry_at: datetime | None
) -> None:
    """A queued try whose process died before it started: counted as try ``try_number``,
    into the retry path (so that a file that always crashes its runner cannot retry forever)."""
    if retry_at is not None and try_number <= ti.max_tries:
        _move_one(
            session,
            ti.id,
            S.UP_FOR_RETRY,
            only_from=[S.QUEUED],
            try_number=try_number,
            next_try_at=retry_at,
            end_date=now(),
        )
    else:
        _move_one(
            session, ti.id, S.FAILED, only_from=[S.QUEUED], try_number=try_number, end_date=now()
        )


# -- task instances: people (CLI, UI, API) -----------------------------------------------


def clear(session: Session, tis: Sequence[TaskInstance], retries: Mapping[str, int]) -> list[int]:
    """Clear instances so that they run again with their retries renewed, as Airflow does:
    ``max_tries`` becomes the tries made so far plus the task's ``retries``."""
    moved: list[int] = []
    not_running = [s for s in TASK_TRANSITIONS if s is not None and s is not S.RUNNING]
    for ti in tis:
        try:
            _move_one(
                session,
                ti.id,
                None,
                only_from=not_running,
                max_tries=ti.try_number + retries.get(ti.task_id, 0),
                next_try_at=None,
                end_date=None,
                # A sensor's timeout counts again from the next try.
                first_try_start=None,
            )
            moved.append(ti.id)
        except TransitionError:
            continue
    return moved


def set_state(session: Session, ti: TaskInstance, state: TaskInstanceState) -> None:
    """A person marks an instance success, failed or skipped."""
    if state not in (S.SUCCESS, S.FAILED, S.SKIPPED):
        raise TransitionError(f"an instance can be marked success, failed or skipped, not {state}")
    _move_one(
        session,
        ti.id,
        state,
        only_from=[s for s in TASK_TRANSITIONS if s is not state],
        end_date=now(),
    )


# -- DAG runs -------------------------------------------------------------------------


def _move_run(session: Session, run: DagRun, to: DagRunState, **values: object) -> None:
    allowed = [old.value for old, targets in RUN_TRANSITIONS.items() if to in targets]
    result = session.execute(
        update(DagRun)
        .where(DagRun.id == run.id, DagRun.state.in_(allowed))
        .values(state=to.value, updated_at=now(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise TransitionError(f"DAG run {run.run_id} cannot move from {run.state} to {to}")
    run.state = to.value
    for key, value in values.items():
        setattr(run, key, value)


def start_run(session: Session, run: DagRun) -> None:
    """A queued run starts (it was under max_active_runs)."""
    _move_run(session, run, DagRunState.RUNNING, start_date=run.start_date or now())


def finish_run(session: Session, run: DagRun, state: DagRunState) -> None:
    """A run ends as success or failed."""
    if state not in (DagRunState.SUCCESS, DagRunState.FAILED):
        raise TransitionError(f"a run finishes as success or failed, not {state}")
    _move_run(session, run, state, end_date=now(), needs_scheduling=False)


def requeue_run(session: Session, run: DagRun) -> None:
    """A finished run is cleared and goes back to the queue."""
    _move_run(
        session, run, DagRunState.QUEUED, end_date=None, needs_scheduling=True,
        clear_number=run.clear_number + 1,
    )  # fmt: skip
