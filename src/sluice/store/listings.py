"""The lists the web UI and the REST API show: DAGs, DAG runs, import errors, the audit log.

Each list is an ordered ``select`` built from filters, which the caller pages with
limit/offset; what a page of DAGs shows besides its rows (last run, recent run states,
the latest run's task states) is read for the whole page in two grouped queries, never
one per DAG, and only over each DAG's latest runs, so that the page does not get
slower as history grows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, union_all
from sqlalchemy.orm import Session

from sluice.store.tables import AuditLog, Dag, DagRun, ImportErrorRow, TaskInstance

RECENT_RUNS = 25
"""How many of a DAG's latest runs its "recent runs" state counts cover."""


# -- DAGs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DagFilter:
    """Which DAGs a list shows; every field left at its default filters nothing."""

    search: str | None = None
    """A part of the DAG id, any case."""
    tags: Sequence[str] = ()
    """DAGs with any of these tags."""
    owners: Sequence[str] = ()
    """DAGs with any of these owners."""
    paused: bool | None = None
    last_run_state: str | None = None
    """The state of the DAG's latest run (by logical date)."""
    include_inactive: bool = False
    """Also DAGs whose file (or the DAG in it) is gone."""


def dag_query(wanted: DagFilter) -> Select[Dag]:
    """The DAGs ``wanted`` asks for, by DAG id."""
    query = select(Dag)
    if not wanted.include_inactive:
        query = query.where(Dag.is_active.is_(True))
    if wanted.search:
        query = query.where(Dag.dag_id.icontains(wanted.search, autoescape=True))
    if wanted.tags:
        # tags holds a JSON list: a tag is matched as its JSON string, quotes included.
        query = query.where(
            or_(*(Dag.tags.contains(json.dumps(tag), autoescape=True) for tag in wanted.tags))
        )
    if wanted.owners:
        query = query.where(or_(*(_has_owner(owner) for owner in wanted.owners)))
    if wanted.paused is not None:
        query = query.where(Dag.is_paused.is_(wanted.paused))
    if wanted.last_run_state:
        # One probe of the (dag_id, logical_date) index per DAG; no scan of the history.
        last_state = (
            select(DagRun.state)
            .where(DagRun.dag_id == Dag.dag_id)
            .order_by(DagRun.logical_date.desc())
            .limit(1)
            .correlate(Dag)
            .scalar_subquery()
        )
        query = query.where(last_state == wanted.last_run_state)
    return query.order_by(Dag.dag_id)


def _has_owner(owner: str) -> ColumnElement[bool]:
    # owners is "a, b, c", as Airflow joins a DAG's task owners.
    return or_(
        Dag.owners == owner,
        Dag.owners.startswith(f"{owner}, ", autoescape=True),
        Dag.owners.endswith(f", {owner}", autoescape=True),
        Dag.owners.contains(f", {owner}, ", autoescape=True),
    )


def split_owners(owners: str) -> list[str]:
    """A dag row's owners as a list."""
    return [owner.strip() for owner in owners.split(",") if owner.strip()]


def split_tags(tags: str) -> list[str]:
    """A dag row's tags (a JSON list) as a list."""
    try:
        loaded = json.loads(tags or "[]")
    except ValueError:
        return []
    return [str(tag) for tag in loaded] if isinstance(loaded, list) else []


@dataclass(frozen=True)
class FilterChoices:
    """What the DAG list's filters offer: every tag and owner of the active DAGs."""

    tags: list[str]
    owners: list[str]


def filter_choices(session: Session) -> FilterChoices:
    """The tags and owners of the active DAGs, sorted (one small query over the dag table)."""
    tags: set[str] = set()
    owners: set[str] = set()
    for tag_text, owner_text in session.execute(
        select(Dag.tags, Dag.owners).where(Dag.is_active.is_(True))
    ):
        tags.update(split_tags(tag_text))
        owners.update(split_owners(owner_text or ""))
    return FilterChoices(tags=sorted(tags), owners=sorted(owners))


@dataclass(frozen=True)
class RunBrief:
    """A run as a list names it."""

    run_id: str
    state: str
    run_type: str
    logical_date: datetime
    start_date: datetime | None
    end_date: datetime | None


@dataclass(frozen=True)
class DagSummary:
    """What the DAG list shows of a DAG's history."""

    last_run: RunBrief | None = None
    recent_run_states: dict[str, int] = field(default_factory=dict)
    """Run state to count, over the DAG's RECENT_RUNS latest runs."""
    last_run_task_states: dict[str, int] = field(default_factory=dict)
    """Task instance state (``none`` for no state yet) to count, in the latest run."""


_BRIEF_COLUMNS = (
    DagRun.dag_id,
    DagRun.run_id,
    DagRun.state,
    DagRun.run_type,
    DagRun.logical_date,
    DagRun.start_date,
    DagRun.end_date,
)


def _latest_runs(dag_ids: Sequence[str], recent: int) -> Select[Any]:
    """Each DAG's ``recent`` latest runs, latest first within a DAG.

    One ``LIMIT`` per DAG joined by UNION ALL: each part reads a few index entries, so
    the cost does not grow with a DAG's history (a window function over all of a DAG's
    runs would).
    """
    parts = [
        select(*_BRIEF_COLUMNS)
        .where(DagRun.dag_id == dag_id)
        .order_by(DagRun.logical_date.desc())
        .limit(recent)
        .subquery()
        for dag_id in dag_ids
    ]
    if len(parts) == 1:
        return select(parts[0])
    return select(union_all(*(select(part) for part in parts)).subquery())


def dag_summaries(
    session: Session, dag_ids: Sequence[str], *, recent: int = RECENT_RUNS
) -> dict[str, DagSummary]:
    """Each DAG's last run, the states of its latest ``recent`` runs and the task states
    of its latest run: two queries for the whole page of DAGs."""
    if not dag_ids:
        return {}
    last: dict[str, RunBrief] = {}
    run_states: dict[str, dict[str, int]] = {}
    for row in session.execute(_latest_runs(dag_ids, recent)):
        counts = run_states.setdefault(row.dag_id, {})
        counts[row.state] = counts.get(row.state, 0) + 1
        brief = RunBrief(
            run_id=row.run_id,
            state=row.state,
            run_type=row.run_type,
            logical_date=row.logical_date,
            start_date=row.start_date,
            end_date=row.end_date,
        )
        known = last.get(row.dag_id)
        # The order of UNION ALL parts is not kept: the latest run is looked for here.
        if known is None or brief.logical_date > known.logical_date:
            last[row.dag_id] = brief
    task_states: dict[str, dict[str, int]] = {}
    if last:
        # OR of (dag_id, run_id) pairs, not a tuple IN: SQLite scans the whole index
        # for the latter, but looks each pair up for the former.
        counted = session.execute(
            select(TaskInstance.dag_id, TaskInstance.state, func.count())
            .where(
                or_(
                    *(
                        and_(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
                        for dag_id, run in last.items()
                    )
                )
            )
            .group_by(TaskInstance.dag_id, TaskInstance.state)
        )
        for dag_id, state, count in counted:
            task_states.setdefault(dag_id, {})[state or "none"] = int(count)
    return {
        dag_id: DagSummary(
            last_run=last.get(dag_id),
            recent_run_states=run_states.get(dag_id, {}),
            last_run_task_states=task_states.get(dag_id, {}),
        )
        for dag_id in dag_ids
    }


# -- DAG runs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFilter:
    """Which DAG runs a list shows."""

    dag_id: str | None = None
    """None: the runs of every DAG."""
    states: Sequence[str] = ()
    run_types: Sequence[str] = ()
    logical_date_gte: datetime | None = None
    logical_date_lte: datetime | None = None


def run_query(wanted: RunFilter) -> Select[DagRun]:
    """The runs ``wanted`` asks for, newest logical date first."""
    query = select(DagRun)
    if wanted.dag_id is not None:
        query = query.where(DagRun.dag_id == wanted.dag_id)
    if wanted.states:
        query = query.where(DagRun.state.in_(list(wanted.states)))
    if wanted.run_types:
        query = query.where(DagRun.run_type.in_(list(wanted.run_types)))
    if wanted.logical_date_gte is not None:
        query = query.where(DagRun.logical_date >= wanted.logical_date_gte)
    if wanted.logical_date_lte is not None:
        query = query.where(DagRun.logical_date <= wanted.logical_date_lte)
    return query.order_by(DagRun.logical_date.desc(), DagRun.id.desc())


def dag_ids(session: Session) -> list[str]:
    """Every DAG id, sorted (for a filter's choices)."""
    return list(session.scalars(select(Dag.dag_id).order_by(Dag.dag_id)))


# -- import errors -------------------------------------------------------------------------


def import_error_query() -> Select[ImportErrorRow]:
    """Every import error, by file name."""
    return select(ImportErrorRow).order_by(ImportErrorRow.filename, ImportErrorRow.id)


def import_error_count(session: Session) -> int:
    """How many import errors there are (the DAG list's banner)."""
    return int(session.scalar(select(func.count()).select_from(ImportErrorRow)) or 0)


def get_import_error(session: Session, error_id: int) -> ImportErrorRow | None:
    """One import error by id."""
    return session.get(ImportErrorRow, error_id)


# -- audit log -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """Which audit rows a list shows."""

    dag_id: str | None = None
    event: str | None = None
    """A part of the event name (``trigger`` finds ``ui_dags_trigger`` and the CLI's)."""
    owner: str | None = None
    after: datetime | None = None
    before: datetime | None = None


def audit_query(wanted: AuditFilter) -> Select[AuditLog]:
    """The audit rows ``wanted`` asks for, newest first."""
    query = select(AuditLog)
    if wanted.dag_id:
        query = query.where(AuditLog.dag_id == wanted.dag_id)
    if wanted.event:
        query = query.where(AuditLog.event.contains(wanted.event, autoescape=True))
    if wanted.owner:
        query = query.where(AuditLog.owner == wanted.owner)
    if wanted.after is not None:
        query = query.where(AuditLog.dttm >= wanted.after)
    if wanted.before is not None:
        query = query.where(AuditLog.dttm <= wanted.before)
    return query.order_by(AuditLog.dttm.desc(), AuditLog.id.desc())
