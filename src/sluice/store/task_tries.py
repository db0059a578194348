"""What each try of a task instance records: its task_try row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam, insert, select, update
from sqlalchemy.orm import Session

from sluice.core.messages import TaskInstanceKey
from sluice.core.states import TaskInstanceState, TaskState
from sluice.store.tables import TaskTry


def next_try_number(state: TaskState, try_number: int) -> int:
    """The try number of an instance's next run: a rescheduled sensor goes on with the same
    try (as Airflow, rescheduling uses no retry); anything else starts a new one."""
    if state is TaskInstanceState.UP_FOR_RESCHEDULE and try_number > 0:
        return try_number
    return try_number + 1


@dataclass(frozen=True)
class TryRecord:
    """Where and when a try started."""

    key: TaskInstanceKey
    try_number: int
    start: datetime
    hostname: str
    pid: int
    log_path: str


# Built once, with bound parameters (named unlike the columns the statements set):
# building a statement costs more than running it, on every try.
_TRY = cast(Table, TaskTry.__table__)
_THIS_TRY = and_(
    _TRY.c.dag_id == bindparam("k_dag_id"),
    _TRY.c.run_id == bindparam("k_run_id"),
    _TRY.c.task_id == bindparam("k_task_id"),
    _TRY.c.map_index == bindparam("k_map_index"),
    _TRY.c.try_number == bindparam("k_try_number"),
)
_FIND = select(_TRY.c.id, _TRY.c.start_date).where(_THIS_TRY)
_ADD = insert(_TRY)
_RESTART = (
    update(_TRY)
    .where(_TRY.c.id == bindparam("k_id"))
    .values(
        state=TaskInstanceState.RUNNING.value,
        hostname=bindparam("set_hostname"),
        pid=bindparam("set_pid"),
        log_path=bindparam("set_log_path"),
        end_date=None,
        duration=None,
        exit_code=None,
        error=None,
    )
)
_END = (
    update(_TRY)
    .where(_THIS_TRY)
    .values(
        state=bindparam("set_state"),
        end_date=bindparam("set_end_date"),
        duration=bindparam("set_duration"),
        exit_code=bindparam("set_exit_code"),
        error=bindparam("set_error"),
    )
)


def _key(key: TaskInstanceKey, try_number: int) -> dict[str, object]:
    return {
        "k_dag_id": key.dag_id,
        "k_run_id": key.run_id,
        "k_task_id": key.task_id,
        "k_map_index": key.map_index,
        "k_try_number": try_number,
    }


def record_try_start(session: Session, record: TryRecord, *, new: bool = False) -> datetime:
    """A try started; returns the start its row keeps. A rescheduled sensor's next poke goes
    on in the same row (and log), which keeps the start of its first poke, as Airflow keeps
    the try's start date. ``new``: the caller knows the row does not exist yet."""
    found = None if new else session.execute(_FIND, _key(record.key, record.try_number)).first()
    if found is None:
        session.execute(
            _ADD,
            {
                "dag_id": record.key.dag_id,
                "run_id": record.key.run_id,
                "task_id": record.key.task_id,
                "map_index": record.key.map_index,
                "try_number": record.try_number,
                "state": TaskInstanceState.RUNNING.value,
                "start_date": record.start,
                "hostname": record.hostname,
                "pid": record.pid,
                "log_path": record.log_path,
            },
        )
        return record.start
    try_id, started = found
    session.execute(
        _RESTART,
        {
            "k_id": try_id,
            "set_hostname": record.hostname,
            "set_pid": record.pid,
            "set_log_path": record.log_path,
        },
    )
    return cast(datetime, started or record.start)


def record_try_end(
    session: Session,
    key: TaskInstanceKey,
    try_number: int,
    *,
    state: str,
    end: datetime,
    exit_code: int | None,
    error: str | None,
    started: datetime | None = None,
) -> None:
    """A try ended (``state`` is the outcome the runner wrote, or what it could not write).

    ``started`` is the start its row keeps, when the caller knows it (then nothing is read).
    """
    where = _key(key, try_number)
    if started is None:
        found = session.execute(_FIND, where).first()
        started = found[1] if found is not None else None
    session.execute(
        _END,
        {
            **where,
            "set_state": state,
            "set_end_date": end,
            "set_duration": (end - started).total_seconds() if started is not None else None,
            "set_exit_code": exit_code,
            "set_error": error,
        },
    )
