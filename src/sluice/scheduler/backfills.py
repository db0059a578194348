"""Carrying out backfill requests: their runs, a few at a time, until all have finished.

A backfill row names a DAG and a range of logical dates. For each interval of the DAG's
schedule in that range, oldest first, the scheduler creates a ``backfill__`` run if the
date has none, clears a finished run again with ``reset_dagruns``, reruns the failed
tasks of a failed run with ``rerun_failed_tasks``, and otherwise leaves the run there
alone (never a second run for a date; never a queued or running one touched). At most
the backfill's ``max_active_runs`` of its runs are queued or running at once. A paused
backfill creates nothing more; the scheduler marks it completed once every interval is
handled and all its runs have finished.
"""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import datetime

from sqlalchemy.orm import Session

from sluice.core.errors import ScheduleError, TransitionError
from sluice.core.states import FAILED_TASK_STATES, DagRunState
from sluice.parsing.serialized import SerializedDag
from sluice.scheduler.runs import create_dag_run
from sluice.scheduler.serialized_dags import SerializedDagCache
from sluice.sdk.schedules import DagRunInfo, iter_dagrun_infos
from sluice.store import backfills, transitions
from sluice.store.clearing import clear_task_instances
from sluice.store.dag_runs import (
    ACTIVE_RUN_STATES,
    adopt_run,
    backfill_run_states,
    lock_backfill,
    queued_runs_of_stopped_backfills,
    runs_at,
)
from sluice.store.run_queries import run_task_instances
from sluice.store.tables import Backfill, DagRun

log = logging.getLogger("sluice.scheduler")

MAX_RUNS = 100_000
"""The most intervals one backfill covers (the CLI refuses larger ranges)."""

FINISHED = (DagRunState.SUCCESS.value, DagRunState.FAILED.value)

CREATE = "create"
CLEAR = "clear and run again"
RERUN_FAILED = "rerun failed tasks"
SKIP_EXISTS = "skip: exists"
SKIP_IN_FLIGHT = "skip: queued or running"
SKIPS = (SKIP_EXISTS, SKIP_IN_FLIGHT)
"""What a backfill does at a date (shown by ``dags backfill --dry-run``)."""


class BackfillRunner:
    """Advances running backfills; remembers each one's intervals, which never change."""

    def __init__(self) -> None:
        self._intervals: dict[int, list[DagRunInfo]] = {}

    def advance(
        self, session: Session, dags: SerializedDagCache, now: datetime, *, job_id: int | None
    ) -> list[DagRun]:
        """Create or rerun the next runs of every running backfill; complete finished ones."""
        # A run created while its backfill was being cancelled would wait forever: fail it,
        # as cancelling does.
        for run in queued_runs_of_stopped_backfills(session):
            with contextlib.suppress(TransitionError):
                transitions.finish_run(session, run, DagRunState.FAILED)
        touched: list[DagRun] = []
        for backfill in backfills.running_backfills(session):
            dag = dags.get(session, backfill.dag_id)
            if dag is None or not lock_backfill(session, backfill.id):
                continue
            touched.extend(self._advance_one(session, dag, backfill, now, job_id))
        return touched

    def _advance_one(
        self,
        session: Session,
        dag: SerializedDag,
        backfill: Backfill,
        now: datetime,
        job_id: int | None,
    ) -> list[DagRun]:
        infos = self._infos(dag, backfill, now)
        states = backfill_run_states(session, backfill.id)
        room = backfill.max_active_runs - sum(1 for s in states if s in ACTIVE_RUN_STATES)
        existing = runs_at(session, dag.dag_id, [info.logical_date for info in infos])
        touched: list[DagRun] = []
        pending = False
        for info in infos:
            run = existing.get(info.logical_date)
            action = backfill_action(
                run,
                reset_dagruns=backfill.reset_dagruns,
                rerun_failed_tasks=backfill.rerun_failed_tasks,
                backfill_id=backfill.id,
            )
            if action in SKIPS:
                continue
            if room <= 0:
                pending = True
                break
            if run is None:
                run = create_dag_run(
                    session,
                    dag,
                    run_type="backfill",
                    logical_date=info.logical_date,
                    data_interval=(info.data_interval.start, info.data_interval.end),
                    run_after=info.run_after,
                    conf=json.loads(backfill.conf or "{}"),
                    backfill_id=backfill.id,
                    job_id=job_id,
                )
            else:
                _rerun(session, dag, run, only_failed=action == RERUN_FAILED)
                adopt_run(session, run.id, backfill.id)
            room -= 1
            pending = True
            touched.append(run)
        if not pending and all(s in FINISHED for s in states):
            backfills.complete_backfill(session, backfill.id)
            self._intervals.pop(backfill.id, None)
            log.info("backfill %d of DAG '%s' completed", backfill.id, backfill.dag_id)
        return touched

    def _infos(self, dag: SerializedDag, backfill: Backfill, now: datetime) -> list[DagRunInfo]:
        if backfill.id not in self._intervals:
            try:
                infos = backfill_intervals(
                    dag, backfill.from_date, backfill.to_date, now, limit=MAX_RUNS
                )
            except ScheduleError as exc:
                log.error("backfill %d of DAG '%s': %s", backfill.id, dag.dag_id, exc)
                infos = []
            self._intervals[backfill.id] = infos
        return self._intervals[backfill.id]


def backfill_intervals(
    dag: SerializedDag, start: datetime, end: datetime, now: datetime, *, limit: int
) -> list[DagRunInfo]:
    """The DAG's intervals with a logical date in [start, end] that have ended by ``now``,
    oldest first (at most ``limit`` of them walked)."""
    infos = iter_dagrun_infos(dag.timetable, start_date=start, end_date=min(end, now), limit=limit)
    return [info for info in infos if info.data_interval.end <= now]


def backfill_action(
    run: DagRun | None,
    *,
    reset_dagruns: bool,
    rerun_failed_tasks: bool,
    backfill_id: int | None = None,
) -> str:
    """What a backfill does at a date holding ``run`` (None: no run there yet).

    A queued or running run, or one already backfill ``backfill_id``'s, is never touched;
    a finished one is cleared with ``reset_dagruns``, or has its failed tasks rerun with
    ``rerun_failed_tasks``.
    """
    if run is None:
        return CREATE
    if run.state not in FINISHED:
        return SKIP_IN_FLIGHT
    if backfill_id is not None and run.backfill_id == backfill_id:
        return SKIP_EXISTS
    if reset_dagruns:
        return CLEAR
    if rerun_failed_tasks and run.state == DagRunState.FAILED.value:
        return RERUN_FAILED
    return SKIP_EXISTS


def _rerun(session: Session, dag: SerializedDag, run: DagRun, *, only_failed: bool) -> None:
    """Clear a finished run's instances (only the failed ones if asked) and requeue it."""
    instances = [
        (ti, run)
        for ti in run_task_instances(session, run.dag_id, run.run_id)
        if not only_failed or ti.state in FAILED_TASK_STATES
    ]
    retries = {task_id: task.retries for task_id, task in dag.tasks.items()}
    clear_task_instances(session, instances, retries)
