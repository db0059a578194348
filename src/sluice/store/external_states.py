"""What one DAG reads of another: its runs' states and its task instances' states at
given logical dates (ExternalTaskSensor), and its run at one logical date (clearing
through an ExternalTaskMarker)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.core.states import TaskInstanceState
from sluice.store.tables import DagRun, TaskInstance

InstanceStates = dict[datetime, dict[str, list[str | None]]]
"""Logical date to task id to the states of that task's instances in the run there."""

_REMOVED = TaskInstanceState.REMOVED.value


def run_states(
    session: Session, dag_id: str, logical_dates: Collection[datetime]
) -> dict[datetime, str]:
    """The state of the DAG's run at each logical date that has one."""
    if not logical_dates:
        return {}
    rows = session.execute(
        select(DagRun.logical_date, DagRun.state).where(
            DagRun.dag_id == dag_id, DagRun.logical_date.in_(list(logical_dates))
        )
    )
    return {when: state for when, state in rows}


def instance_states(
    session: Session,
    dag_id: str,
    task_ids: Collection[str],
    logical_dates: Collection[datetime],
) -> InstanceStates:
    """The states of these tasks' instances in the DAG's runs at these logical dates.

    A mapped task has one instance per map index; the placeholder that an expanded task
    leaves behind (``removed``, map index -1) is not one of them.
    """
    if not task_ids or not logical_dates:
        return {}
    rows = session.execute(
        select(
            DagRun.logical_date, TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state
        )
        .join(
            DagRun,
            (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id),
        )
        .where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.task_id.in_(list(task_ids)),
            DagRun.logical_date.in_(list(logical_dates)),
        )
        .order_by(DagRun.logical_date, TaskInstance.task_id, TaskInstance.map_index)
    )
    found: dict[datetime, dict[str, list[tuple[int, str | None]]]] = {}
    for when, task_id, map_index, state in rows:
        found.setdefault(when, {}).setdefault(task_id, []).append((map_index, state))
    return {
        when: {task_id: _without_placeholder(rows) for task_id, rows in tasks.items()}
        for when, tasks in found.items()
    }


def _without_placeholder(rows: list[tuple[int, str | None]]) -> list[str | None]:
    expanded = any(map_index >= 0 for map_index, _ in rows)
    return [
        state for map_index, state in rows if not (expanded and map_index < 0 and state == _REMOVED)
    ]


def run_at(session: Session, dag_id: str, logical_date: datetime) -> DagRun | None:
    """The DAG's run at this logical date, if it has one."""
    return session.scalar(
        select(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date == logical_date)
    )


def run_state(session: Session, dag_id: str, run_id: str) -> str | None:
    """The state of one run; None when the run does not exist (any more)."""
    return session.scalar(
        select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
    )
