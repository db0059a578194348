"""What each try of a task instance records: the task_try row, and the instance's facts
that are not its state (first try start, rendered template fields)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from sluice.core.messages import TaskInstanceKey
from sluice.core.states import TaskInstanceState, TaskState
from sluice.store.tables import TaskInstance, TaskTry


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


def _where(key: TaskInstanceKey, try_number: int) -> ColumnElement[bool]:
    return and_(
        TaskTry.dag_id == key.dag_id,
        TaskTry.run_id == key.run_id,
        TaskTry.task_id == key.task_id,
        TaskTry.map_index == key.map_index,
        TaskTry.try_number == try_number,
    )


def record_try_start(session: Session, record: TryRecord) -> None:
    """A try started. A rescheduled sensor's next poke goes on in the same row (and log),
    which keeps the start of its first poke, as Airflow keeps the try's start date."""
    row = session.scalar(select(TaskTry).where(_where(record.key, record.try_number)))
    if row is None:
        session.add(
            TaskTry(
                dag_id=record.key.dag_id,
                run_id=record.key.run_id,
                task_id=record.key.task_id,
                map_index=record.key.map_index,
                try_number=record.try_number,
                state=TaskInstanceState.RUNNING.value,
                start_date=record.start,
                hostname=record.hostname,
                pid=record.pid,
                log_path=record.log_path,
            )
        )
        return
    row.state = TaskInstanceState.RUNNING.value
    row.hostname = record.hostname
    row.pid = record.pid
    row.log_path = record.log_path
    row.end_date = row.duration = row.exit_code = row.error = None


def record_try_end(
    session: Session,
    key: TaskInstanceKey,
    try_number: int,
    *,
    state: str,
    end: datetime,
    exit_code: int | None,
    error: str | None,
) -> None:
    """A try ended (``state`` is the outcome the runner wrote, or what it could not write)."""
    row = session.scalar(select(TaskTry).where(_where(key, try_number)))
    if row is None:
        return
    row.state = state
    row.end_date = end
    row.duration = (end - row.start_date).total_seconds() if row.start_date else None
    row.exit_code = exit_code
    row.error = error


def mark_first_try_start(session: Session, ti_id: int, start: datetime) -> None:
    """Remember when the instance's first try started, unless it already has a first start
    (it is kept across retries and reschedules, and forgotten when the instance is cleared)."""
    session.execute(
        update(TaskInstance)
        .where(TaskInstance.id == ti_id, TaskInstance.first_try_start.is_(None))
        .values(first_try_start=start)
        .execution_options(synchronize_session=False)
    )


def save_rendered_fields(session: Session, ti_id: int, rendered: str | None) -> None:
    """The try's rendered template fields, as JSON, for the UI and ``tasks render``."""
    session.execute(
        update(TaskInstance)
        .where(TaskInstance.id == ti_id)
        .values(rendered_fields=rendered)
        .execution_options(synchronize_session=False)
    )
