"""What people do to one DAG run as a whole: delete it with its task instances."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from sluice.core.errors import StoreError
from sluice.core.states import TaskInstanceState
from sluice.store.run_queries import get_run
from sluice.store.tables import CheckResult, DagRun, TaskInstance, TaskTry, XCom


class RunBusy(StoreError):
    """Raised when a run cannot be deleted because one of its task instances is running."""


def delete_run(session: Session, dag_id: str, run_id: str) -> dict[str, int]:
    """Delete one run with its task instances, tries and XComs; the rows deleted per table.

    DagRunNotFound when there is no such run. Refused (RunBusy) while one of its task
    instances runs, as for a whole DAG: its runner would write to rows that are gone.
    """
    run = get_run(session, dag_id, run_id)
    running = session.scalar(
        select(TaskInstance.task_id)
        .where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.state == TaskInstanceState.RUNNING.value,
        )
        .limit(1)
    )
    if running is not None:
        raise RunBusy(
            f"run '{run_id}' of DAG '{dag_id}' has running task instances (such as"
            f" '{running}'); wait for them to finish, or mark them failed, before deleting it"
        )
    run_pk = run.id
    session.expunge(run)  # the row goes below, behind the ORM's back
    # Children first, so that no foreign key is left dangling on any backend.
    return {
        "check_result": _deleted(
            session,
            delete(CheckResult).where(CheckResult.dag_id == dag_id, CheckResult.run_id == run_id),
        ),
        "xcom": _deleted(session, delete(XCom).where(XCom.dag_run_id == run_pk)),
        "task_try": _deleted(
            session, delete(TaskTry).where(TaskTry.dag_id == dag_id, TaskTry.run_id == run_id)
        ),
        "task_instance": _deleted(
            session,
            delete(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            ),
        ),
        "dag_run": _deleted(session, delete(DagRun).where(DagRun.id == run_pk)),
    }


def _deleted(session: Session, statement: Any) -> int:
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        statement.execution_options(synchronize_session=False)
    )
    return int(result.rowcount)
