"""Runs between queued and finished: starting them under max_active_runs, timing them out.

Runs outside backfills count against their DAG's ``max_active_runs``; a backfill's runs
count against the backfill's own ``max_active_runs`` and start only while the backfill
is running (not paused), as in Airflow 3. A paused DAG starts no new run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from sluice.core.errors import TransitionError
from sluice.core.messages import CallbackWorkload
from sluice.core.states import FINISHED_TASK_STATES, DagRunState
from sluice.scheduler.runs import max_active_runs
from sluice.scheduler.serialized_dags import SerializedDagCache
from sluice.store import backfills, transitions
from sluice.store.dag_runs import (
    dag_rows,
    lock_dags,
    lock_runs,
    queued_runs,
    running_counts,
    running_runs,
)
from sluice.store.tables import Backfill, DagRun
from sluice.store.task_instances import run_instances

log = logging.getLogger("sluice.scheduler")


def start_queued_runs(session: Session, dags: SerializedDagCache) -> list[DagRun]:
    """Start queued runs, oldest first, while their DAG (or backfill) is under its limit."""
    queued = queued_runs(session)
    if not queued:
        return []
    # Only the DAGs this scheduler holds: counting and starting is then not raced.
    dag_ids = lock_dags(session, {run.dag_id for run in queued})
    queued = [run for run in queued if run.dag_id in dag_ids]
    per_dag, per_backfill = running_counts(session)
    rows = dag_rows(session, dag_ids)
    serialized = dags.get_many(session, dag_ids)
    backfill_rows = {
        run.backfill_id: session.get(Backfill, run.backfill_id)
        for run in queued
        if run.backfill_id is not None
    }
    started: list[DagRun] = []
    for run in queued:
        dag = serialized.get(run.dag_id)
        if dag is None:
            continue
        if run.backfill_id is not None:
            backfill = backfill_rows.get(run.backfill_id)
            if backfill is None or backfill.state != backfills.RUNNING:
                continue
            if per_backfill.get(backfill.id, 0) >= backfill.max_active_runs:
                continue
            per_backfill[backfill.id] = per_backfill.get(backfill.id, 0) + 1
        else:
            row = rows.get(run.dag_id)
            if row is None or row.is_paused:
                continue
            if per_dag.get(run.dag_id, 0) >= max_active_runs(dag):
                continue
            per_dag[run.dag_id] = per_dag.get(run.dag_id, 0) + 1
        try:
            transitions.start_run(session, run)
        except TransitionError:
            continue  # cancelled (its backfill) or started by someone else meanwhile
        started.append(run)
    return started


@dataclass
class Timeouts:
    """Runs that ran past their dagrun_timeout, and when the next one will."""

    callbacks: list[CallbackWorkload] = field(default_factory=list)
    timed_out: list[DagRun] = field(default_factory=list)
    next_at: datetime | None = None


def time_out_runs(session: Session, dags: SerializedDagCache, now: datetime) -> Timeouts:
    """Fail running runs older than their DAG's dagrun_timeout, skipping what is unfinished."""
    result = Timeouts()
    running = running_runs(session)
    serialized = dags.get_many(session, {run.dag_id for run in running})
    expired: list[DagRun] = []
    for run in running:
        dag = serialized.get(run.dag_id)
        if dag is None or dag.dagrun_timeout is None or run.start_date is None:
            continue
        deadline = run.start_date + timedelta(seconds=dag.dagrun_timeout)
        if deadline <= now:
            expired.append(run)
        elif result.next_at is None or deadline < result.next_at:
            result.next_at = deadline
    # Another scheduler may be deciding one of them: it is timed out on a later pass.
    held = set(lock_runs(session, [run.id for run in expired]))
    expired = [run for run in expired if run.id in held]
    if not expired:
        return result
    instances = run_instances(session, [(run.dag_id, run.run_id) for run in expired])
    for run in expired:
        unfinished = [
            ti.id
            for ti in instances
            if (ti.dag_id, ti.run_id) == (run.dag_id, run.run_id)
            and ti.state not in FINISHED_TASK_STATES
        ]
        transitions.skip_unfinished(session, unfinished)
        transitions.finish_run(session, run, DagRunState.FAILED)
        log.warning("run %s of DAG '%s' timed out (dagrun_timeout)", run.run_id, run.dag_id)
        result.timed_out.append(run)
        dag = serialized[run.dag_id]
        if dag.has_on_failure_callback:
            result.callbacks.append(
                CallbackWorkload(run.dag_id, run.run_id, dag.fileloc, "failure", "timed_out")
            )
    return result
