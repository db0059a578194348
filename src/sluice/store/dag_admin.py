"""What people do to a whole DAG: pause it, unpause it, delete it with its history."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from sluice.core.errors import StoreError
from sluice.core.states import TaskInstanceState
from sluice.store.dags import path_hash
from sluice.store.run_queries import get_dag
from sluice.store.tables import (
    Backfill,
    CheckResult,
    Dag,
    DagFile,
    DagRun,
    ImportErrorRow,
    SerializedDagRow,
    TaskInstance,
    TaskTry,
    XCom,
)


def set_paused(session: Session, dag_id: str, paused: bool) -> bool:
    """Pause or unpause a DAG; False when it already was."""
    dag = get_dag(session, dag_id)
    if dag.is_paused == paused:
        return False
    session.execute(
        update(Dag)
        .where(Dag.dag_id == dag_id)
        .values(is_paused=paused)
        .execution_options(synchronize_session=False)
    )
    dag.is_paused = paused
    return True


# Children before parents, so that no foreign key is left dangling on any backend.
_HISTORY = (
    CheckResult,
    XCom,
    TaskTry,
    TaskInstance,
    DagRun,
    Backfill,
    ImportErrorRow,
    SerializedDagRow,
    Dag,
)


def delete_dag(session: Session, dag_id: str) -> dict[str, int]:
    """Delete a DAG and its history; returns the rows deleted per table.

    The audit log is kept (it says who deleted the DAG). Refused while a task instance
    of the DAG is running, as Airflow does: its runner would write to rows that are gone.
    """
    fileloc = get_dag(session, dag_id).fileloc
    running = session.scalar(
        select(TaskInstance.task_id)
        .where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.state == TaskInstanceState.RUNNING.value,
        )
        .limit(1)
    )
    if running is not None:
        raise StoreError(
            f"DAG '{dag_id}' has running task instances (such as '{running}'); wait for them"
            " to finish, or mark them failed, before deleting it"
        )
    counts: dict[str, int] = {}
    for table in _HISTORY:
        column = table.__table__.c.dag_id
        result = session.execute(delete(table).where(column == dag_id))
        counts[table.__tablename__] = int(result.rowcount)  # type: ignore[attr-defined]
    # Forget the file too, so that the DAG processor parses it again: a DAG whose file
    # is still there comes back, as Airflow's does.
    session.execute(delete(DagFile).where(DagFile.path_hash == path_hash(fileloc)))
    return counts
