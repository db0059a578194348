"""The only code that changes the state of a task instance or a DAG run.

Each change is one function named for what it does. Every write is a compare-and-set:
``UPDATE ... WHERE id = :id AND state IN (:allowed)``, so two processes racing for the
same row cannot both win (a task is never started twice), and a change the table in
``sluice.core.states`` does not allow is refused. A move that can change what the
scheduler decides flags the run as needing a decision, which is how the scheduler learns
that something moved; scheduled, queued and running cannot (such an instance is neither
done nor waiting for a decision), so those moves leave the flag alone.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Select,
    Table,
    Update,
    bindparam,
    func,
    or_,
    select,
    update,
)
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


# The statements are Core, built once per shape with bound parameters and cached: on a
# task's path from one try to the next, building an ORM statement costs several times
# what running it does.
_TI = cast(Table, TaskInstance.__table__)
_RUN = cast(Table, DagRun.__table__)


def _sources(to: TaskState) -> list[TaskState]:
    return [old for old, targets in TASK_TRANSITIONS.items() if to in targets]


def _state_in(states: Iterable[TaskState]) -> ColumnElement[bool]:
    states = list(states)
    values = sorted(s.value for s in states if s is not None)
    condition: ColumnElement[bool] = _TI.c.state.in_(values)
    if None in states:
        condition = or_(condition, _TI.c.state.is_(None))
    return condition


def _allowed(to: TaskState, only_from: Iterable[TaskState] | None) -> frozenset[TaskState]:
    allowed = set(_sources(to))
    if only_from is not None:
        allowed &= set(only_from)
    return frozenset(allowed)


def _set_clause(
    to: TaskState, columns: Iterable[str], keep: Collection[str] = ()
) -> dict[str, Any]:
    """SET state = <to>, updated_at and ``columns`` to parameters named ``set_<column>``
    (a parameter may not be named as a column of the table it updates); the columns in
    ``keep`` only where they are NULL."""
    clause: dict[str, Any] = {"state": to.value if to else None}
    for name in ("updated_at", *columns):
        value = bindparam(f"set_{name}", type_=_TI.c[name].type)
        clause[name] = func.coalesce(_TI.c[name], value) if name in keep else value
    return clause


@functools.cache
def _move_statement(
    to: TaskState, allowed: frozenset[TaskState], columns: tuple[str, ...], returning: bool
) -> Update:
    """Move the instances ``:ti_ids`` that are in ``allowed``."""
    statement = (
        update(_TI)
        .where(_TI.c.id.in_(bindparam("ti_ids", expanding=True)), _state_in(allowed))
        .values(_set_clause(to, columns))
    )
    return statement.returning(_TI.c.id) if returning else statement


@functools.cache
def _movable_statement(allowed: frozenset[TaskState]) -> Select[tuple[int]]:
    """The instances among ``:ti_ids`` that are in ``allowed``."""
    return select(_TI.c.id).where(
        _TI.c.id.in_(bindparam("ti_ids", expanding=True)), _state_in(allowed)
    )


@functools.cache
def _move_one_statement(
    to: TaskState, allowed: frozenset[TaskState], columns: tuple[str, ...], keep: tuple[str, ...]
) -> Update:
    """Move the instance ``:ti_id`` if it is in ``allowed``."""
    return (
        update(_TI)
        .where(_TI.c.id == bindparam("ti_id"), _state_in(allowed))
        .values(_set_clause(to, columns, keep))
    )


def _parameters(values: Mapping[str, object]) -> dict[str, object]:
    return {"set_updated_at": now(), **{f"set_{name}": value for name, value in values.items()}}


def _move(
    session: Session,
    ti_ids: Sequence[int],
    to: TaskState,
    *,
    only_from: Iterable[TaskState] | None = None,
    flag: bool = True,
    **values: object,
) -> list[int]:
    """Move the instances that are in an allowed from-state; return the ids that moved."""
    if not ti_ids:
        return []
    allowed = _allowed(to, only_from)
    if any(isinstance(value, ClauseElement) for value in values.values()):
        # A value computed in SQL (try_number - 1): a statement of its own, not cached.
        return _move_with_expressions(session, ti_ids, to, allowed, flag, values)
    columns = tuple(values)
    parameters = {"ti_ids": list(ti_ids), **_parameters(values)}
    if session.get_bind().dialect.update_returning:
        # One statement, and exactly the rows this UPDATE moved.
        statement = _move_statement(to, allowed, columns, True)
        moved = list(session.scalars(statement, parameters))
    else:
        moved = list(session.scalars(_movable_statement(allowed), {"ti_ids": list(ti_ids)}))
        if moved:
            parameters["ti_ids"] = moved
            session.execute(_move_statement(to, allowed, columns, False), parameters)
    if moved and flag:
        _flag_runs(session, moved)
    return moved


def _move_with_expressions(
    session: Session,
    ti_ids: Sequence[int],
    to: TaskState,
    allowed: frozenset[TaskState],
    flag: bool,
    values: Mapping[str, object],
) -> list[int]:
    moved: list[int] = list(session.scalars(_movable_statement(allowed), {"ti_ids": list(ti_ids)}))
    if moved:
        session.execute(
            update(_TI)
            .where(_TI.c.id.in_(moved), _state_in(allowed))
            .values(state=to.value if to else None, updated_at=now(), **values)
        )
        if flag:
            _flag_runs(session, moved)
    return moved


def _move_one(
    session: Session,
    ti_id: int,
    to: TaskState,
    *,
    only_from: Iterable[TaskState],
    flag: bool = True,
    run_pk: int | None = None,
    values: Mapping[str, object],
    keep: tuple[str, ...] = (),
) -> None:
    """Move one instance or raise TransitionError; ``run_pk`` (its run's id, when the
    caller knows it) spares reading it to flag the run; the columns in ``keep`` are only
    set where they are NULL."""
    statement = _move_one_statement(to, _allowed(to, only_from), tuple(values), keep)
    result = session.execute(statement, {"ti_id": ti_id, **_parameters(values)})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        current = session.scalar(select(_TI.c.state).where(_TI.c.id == ti_id))
        raise TransitionError(
            f"task instance {ti_id} cannot move from {current or 'none'} to {to or 'none'}"
        )
    if not flag:
        return
    if run_pk is None:
        _flag_runs(session, [ti_id])
    else:
        _flag_run_ids(session, [run_pk])


# Read the run ids first, then update by primary key only: an UPDATE that found its run
# through the (dag_id, ...) index would lock that index entry too, and on MySQL deadlock
# with a scheduler that holds the run's row (SELECT ... FOR UPDATE).
_RUNS_OF = (
    select(_RUN.c.id)
    .join(_TI, (_TI.c.dag_id == _RUN.c.dag_id) & (_TI.c.run_id == _RUN.c.run_id))
    .where(_TI.c.id.in_(bindparam("ti_ids", expanding=True)))
    .distinct()
)
_FLAG_RUNS = (
    update(_RUN)
    .where(_RUN.c.id.in_(bindparam("run_ids", expanding=True)))
    .values(needs_scheduling=True)
)


def _flag_runs(session: Session, ti_ids: Sequence[int]) -> None:
    run_ids: list[int] = list(session.scalars(_RUNS_OF, {"ti_ids": list(ti_ids)}))
    _flag_run_ids(session, run_ids)


def _flag_run_ids(session: Session, run_ids: Sequence[int]) -> None:
    if run_ids:
        session.execute(_FLAG_RUNS, {"run_ids": list(run_ids)})


# -- task instances: the scheduler's decisions -------------------------------------------


def mark_scheduled(session: Session, ti_ids: Sequence[int]) -> list[int]:
    """Instances whose dependencies are met, waiting for a slot (queuing does not need the
    run flagged: it looks at every scheduled instance)."""
    return _move(
        session,
        ti_ids,
        S.SCHEDULED,
        only_from=[None, S.UP_FOR_RETRY, S.UP_FOR_RESCHEDULE],
        flag=False,
    )


def mark_queued(session: Session, ti_ids: Sequence[int], *, job_id: int | None) -> list[int]:
    """Instances handed to the executor; returns those that really moved (others lost a race)."""
    return _move(
        session,
        ti_ids,
        S.QUEUED,
        only_from=[S.SCHEDULED],
        flag=False,
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


@dataclass(frozen=True)
class RunningTry:
    """A try as its runner knows it: what finishing it takes, without reading its row."""

    id: int
    """The task instance's id."""
    run_pk: int
    """The id of its DAG run (flagged for a decision when the try ends)."""
    start_date: datetime
    try_number: int
    max_tries: int


def mark_running(session: Session, ti_id: int, start: TryStart) -> datetime:
    """A runner starts a try; raises TransitionError if the instance is not queued.

    The instance's first try start is set too, unless an earlier try set it. Returns the
    try's start date.
    """
    stamp = now()
    values = {
        "try_number": start.try_number,
        "hostname": start.hostname,
        "pid": start.pid,
        "start_date": stamp,
        "end_date": None,
        "duration": None,
        "last_heartbeat_at": stamp,
        "next_try_at": None,
        "first_try_start": stamp,
    }
    _move_one(
        session, ti_id, S.RUNNING, only_from=[S.QUEUED], flag=False, values=values,
        keep=("first_try_start",),
    )  # fmt: skip
    return stamp


def _finish(
    session: Session,
    ti: TaskInstance | RunningTry,
    to: TaskState,
    only_from: Sequence[TaskState],
    rendered_fields: str | None,
    **more: object,
) -> None:
    """End a try: its end date and duration, and ``rendered_fields`` when given."""
    end = now()
    start = ti.start_date or end
    values: dict[str, object] = {"end_date": end, "duration": (end - start).total_seconds()}
    values.update(more)
    if rendered_fields is not None:
        values["rendered_fields"] = rendered_fields
    run_pk = ti.run_pk if isinstance(ti, RunningTry) else None
    _move_one(session, ti.id, to, only_from=only_from, run_pk=run_pk, values=values)


def mark_success(
    session: Session, ti: TaskInstance | RunningTry, *, rendered_fields: str | None = None
) -> None:
    """A try succeeded (``rendered_fields``: its rendered template fields, as JSON)."""
    _finish(session, ti, S.SUCCESS, [S.RUNNING], rendered_fields)


def mark_failed(
    session: Session, ti: TaskInstance | RunningTry, *, rendered_fields: str | None = None
) -> None:
    """A try failed and no retry is left (or the task failed on purpose)."""
    _finish(session, ti, S.FAILED, [S.RUNNING, S.QUEUED], rendered_fields)


def mark_task_skipped(
    session: Session, ti: TaskInstance | RunningTry, *, rendered_fields: str | None = None
) -> None:
    """The task skipped itself (SkipTask, a skip exit code, a soft-failed sensor)."""
    _finish(session, ti, S.SKIPPED, [S.RUNNING], rendered_fields)


def schedule_retry(
    session: Session,
    ti: TaskInstance | RunningTry,
    *,
    next_try_at: datetime,
    rendered_fields: str | None = None,
) -> None:
    """A try failed and a retry is left: it may run again from ``next_try_at``."""
    _finish(
        session, ti, S.UP_FOR_RETRY, [S.RUNNING, S.QUEUED], rendered_fields, next_try_at=next_try_at
    )


def schedule_reschedule(
    session: Session,
    ti: TaskInstance | RunningTry,
    *,
    next_try_at: datetime,
    rendered_fields: str | None = None,
) -> None:
    """A sensor in reschedule mode gives its slot back until ``next_try_at``."""
    _finish(session, ti, S.UP_FOR_RESCHEDULE, [S.RUNNING], rendered_fields, next_try_at=next_try_at)


_HEARTBEAT = (
    update(_TI)
    .where(
        _TI.c.id == bindparam("ti_id"),
        _TI.c.state == S.RUNNING.value,
        _TI.c.pid == bindparam("ti_pid"),
    )
    .values(last_heartbeat_at=bindparam("set_last_heartbeat_at"))
)


def heartbeat(session: Session, ti_id: int, *, pid: int) -> bool:
    """A running try is alive; False if the instance is no longer running for this pid."""
    result = session.execute(
        _HEARTBEAT, {"ti_id": ti_id, "ti_pid": pid, "set_last_heartbeat_at": now()}
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
        values = {"try_number": try_number, "next_try_at": retry_at, "end_date": now()}
        _move_one(session, ti.id, S.UP_FOR_RETRY, only_from=[S.QUEUED], values=values)
    else:
        values = {"try_number": try_number, "end_date": now()}
        _move_one(session, ti.id, S.FAILED, only_from=[S.QUEUED], values=values)


# -- task instances: people (CLI, UI, API) -----------------------------------------------


def clear(session: Session, tis: Sequence[TaskInstance], retries: Mapping[str, int]) -> list[int]:
    """Clear instances so that they run again with their retries renewed, as Airflow does:
    ``max_tries`` becomes the tries made so far plus the task's ``retries``."""
    moved: list[int] = []
    not_running = [s for s in TASK_TRANSITIONS if s is not None and s is not S.RUNNING]
    for ti in tis:
        values = {
            "max_tries": ti.try_number + retries.get(ti.task_id, 0),
            "next_try_at": None,
            "end_date": None,
            # A sensor's timeout counts again from the next try.
            "first_try_start": None,
        }
        try:
            _move_one(session, ti.id, None, only_from=not_running, values=values)
            moved.append(ti.id)
        except TransitionError:
            continue
    return moved


def set_state(session: Session, ti: TaskInstance, state: TaskInstanceState) -> None:
    """A person marks an instance success, failed or skipped."""
    if state not in (S.SUCCESS, S.FAILED, S.SKIPPED):
        raise TransitionError(f"an instance can be marked success, failed or skipped, not {state}")
    only_from = [s for s in TASK_TRANSITIONS if s is not state]
    _move_one(session, ti.id, state, only_from=only_from, values={"end_date": now()})


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
