"""Pausing, unpausing (with the catchup guard) and deleting a DAG."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from sluice.actions.common import ActionRefused, Actor, load_stored_dag
from sluice.actions.run_plans import catchup_plan
from sluice.core.errors import DagNotFound
from sluice.store import dag_admin
from sluice.store.run_queries import get_dag, latest_automated_run
from sluice.store.tables import Dag
from sluice.store.transitions import now


class CatchupNeedsConfirmation(ActionRefused):
    """Unpausing would create more catchup runs at once than the threshold allows."""

    def __init__(self, message: str, *, count: int, capped: bool, summary: str) -> None:
        super().__init__(message)
        self.count = count
        self.capped = capped
        self.summary = summary


@dataclass(frozen=True)
class CatchupPreview:
    """The runs unpausing a DAG creates at once."""

    count: int
    capped: bool
    """True when there are more than ``count``."""
    summary: str
    """"12 runs, logical dates ... to ...", or "" when there are none."""


def set_paused(session: Session, actor: Actor, dag_id: str, paused: bool) -> bool:
    """Pause a DAG (or unpause it without the catchup guard); False when it already was."""
    changed = dag_admin.set_paused(session, dag_id, paused)
    if changed:
        actor.record(session, "dags_pause" if paused else "dags_unpause", dag_id=dag_id)
    return changed


def catchup_preview(session: Session, dag_row: Dag, *, threshold: int) -> CatchupPreview:
    """How many runs unpausing the DAG creates at once, and which."""
    try:
        dag = load_stored_dag(session, dag_row.dag_id)
    except DagNotFound:
        return CatchupPreview(0, False, "")  # Never parsed: no run can be created yet.
    last = latest_automated_run(session, dag_row.dag_id)
    plan = catchup_plan(
        dag,
        next_logical_date=dag_row.next_dagrun,
        last_logical_date=last.logical_date if last else None,
        now=now(),
        threshold=threshold,
    )
    if not (plan.first and plan.last):
        return CatchupPreview(0, False, "")
    many = f"more than {plan.count}" if plan.capped else str(plan.count)
    summary = (
        f"{many} runs, logical dates {plan.first.logical_date.isoformat()} to"
        f" {plan.last.logical_date.isoformat()}"
    )
    return CatchupPreview(plan.count, plan.capped, summary)


def unpause(
    session: Session, actor: Actor, dag_id: str, *, threshold: int, confirmed: bool
) -> CatchupPreview | None:
    """Unpause the DAG; None when it was not paused, else the catchup it starts.

    Above ``threshold`` catchup runs, CatchupNeedsConfirmation unless ``confirmed``.
    """
    dag_row = get_dag(session, dag_id)
    if not dag_row.is_paused:
        return None
    preview = catchup_preview(session, dag_row, threshold=threshold)
    if preview.count > threshold and not confirmed:
        raise CatchupNeedsConfirmation(
            f"unpausing DAG '{dag_id}' starts catchup: {preview.summary}, more than [scheduler]"
            f" catchup_confirm_threshold ({threshold})",
            count=preview.count,
            capped=preview.capped,
            summary=preview.summary,
        )
    dag_admin.set_paused(session, dag_id, False)
    extra = {"catchup": preview.summary} if preview.summary else None
    actor.record(session, "dags_unpause", dag_id=dag_id, extra=extra)
    return preview


def delete_dag(session: Session, actor: Actor, dag_id: str) -> tuple[str, dict[str, int]]:
    """Delete the DAG and its history (the audit log stays); its file path and the counts."""
    fileloc = get_dag(session, dag_id).fileloc
    counts = dag_admin.delete_dag(session, dag_id)
    actor.record(session, "dags_delete", dag_id=dag_id, extra=counts)
    return fileloc, counts
