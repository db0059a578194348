"""Clearing task instances so that they run again, as Airflow's ``clear_task_instances``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from sluice.core.errors import TransitionError
from sluice.core.states import FINISHED_RUN_STATES, DagRunState
from sluice.store import transitions
from sluice.store.tables import DagRun, TaskInstance


@dataclass(frozen=True)
class ClearResult:
    """What a clear changed."""

    cleared: list[int]
    """Ids of the task instances that went back to no state."""
    requeued_runs: list[str]
    """Run ids of finished runs that went back to queued."""


def clear_task_instances(
    session: Session,
    instances: Sequence[tuple[TaskInstance, DagRun]],
    retries: Mapping[str, int],
) -> ClearResult:
    """Clear the instances (running ones are left alone) and requeue their finished runs.

    ``retries`` gives each task's retries from its DAG, so that a cleared instance gets
    them all again.
    """
    cleared = transitions.clear(session, [ti for ti, _ in instances], retries)
    moved = set(cleared)
    runs: dict[int, DagRun] = {}
    for ti, run in instances:
        if ti.id in moved:
            runs.setdefault(run.id, run)
    requeued: list[str] = []
    for run in runs.values():
        if DagRunState(run.state) not in FINISHED_RUN_STATES:
            continue  # A queued or running run picks the cleared instances up by itself.
        try:
            transitions.requeue_run(session, run)
        except TransitionError:
            continue  # Another writer moved it first; the run is not finished any more.
        requeued.append(run.run_id)
    return ClearResult(cleared=cleared, requeued_runs=requeued)
