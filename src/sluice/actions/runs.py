"""Triggering a manual DAG run, and deleting a run."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sluice.actions.common import ActionRefused, Actor, check_conf, load_stored_dag
from sluice.scheduler.runs import create_dag_run, make_run_id
from sluice.store import run_admin
from sluice.store.run_queries import find_clash, get_dag
from sluice.store.tables import ID, DagRun
from sluice.store.transitions import now

# Airflow's default [scheduler] allowed_run_id_pattern.
_RUN_ID = re.compile(r"^[A-Za-z0-9_.~:+-]+$")


def check_run_id(run_id: str) -> str:
    """The run id, or ActionRefused saying which characters and length are allowed."""
    if not _RUN_ID.match(run_id):
        raise ActionRefused(
            f"run id {run_id!r} may hold only letters, digits and _ . ~ : + - (and not be empty)"
        )
    if len(run_id) > ID:
        raise ActionRefused(f"run id is {len(run_id)} characters long; at most {ID} are allowed")
    return run_id


def trigger_run(
    session: Session,
    actor: Actor,
    dag_id: str,
    *,
    conf: Mapping[str, Any] | None = None,
    logical_date: datetime | None = None,
    run_id: str | None = None,
) -> DagRun:
    """Create a queued manual run of the DAG, which the scheduler then runs.

    The conf is checked against the DAG's params; ``logical_date`` (aware, default now)
    gets the data interval the DAG's schedule gives a manual run there. A run id or a
    logical date the DAG already has a run for is refused.
    """
    get_dag(session, dag_id)
    dag = load_stored_dag(session, dag_id)
    check_conf(dag, conf)
    when = logical_date or now()
    run_id = check_run_id(run_id) if run_id else make_run_id("manual", when)
    _refuse_clash(find_clash(session, dag_id, run_id, when), dag_id, run_id, when)
    interval = dag.timetable.infer_manual_data_interval(run_after=when)
    run = create_dag_run(
        session,
        dag,
        run_type="manual",
        logical_date=when,
        data_interval=(interval.start, interval.end),
        conf=conf,
        run_id=run_id,
    )
    actor.record(session, "dags_trigger", dag_id=dag_id, run_id=run_id, extra=dict(conf or {}))
    return run


def _refuse_clash(clash: DagRun | None, dag_id: str, run_id: str, when: datetime) -> None:
    if clash is None:
        return
    if clash.run_id == run_id:
        raise ActionRefused(
            f"DAG '{dag_id}' already has a run with run id '{run_id}' ({clash.state});"
            " give another run id"
        )
    raise ActionRefused(
        f"DAG '{dag_id}' already has a run at logical date {when.isoformat()}:"
        f" '{clash.run_id}' ({clash.state}); give another logical date, or clear that run"
    )


def delete_run(session: Session, actor: Actor, dag_id: str, run_id: str) -> dict[str, int]:
    """Delete the run with its task instances, tries and XComs; the rows deleted per table.

    RunBusy while one of its task instances runs.
    """
    counts = run_admin.delete_run(session, dag_id, run_id)
    actor.record(session, "dag_runs_delete", dag_id=dag_id, run_id=run_id, extra=counts)
    return counts
