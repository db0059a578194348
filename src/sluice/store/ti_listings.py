"""Task instances as the REST API and the pages list them: across runs and DAGs with
filters, one instance with a clear error when it is not there, its tries and its XComs.

Lists across runs are ordered newest first by ``task_instance.id`` (the primary key, so
that an index serves the order and a page never sorts the whole table); the instances of
one run are ordered by task id and map index, which the table's unique key serves.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from sluice.core.suggestions import unknown_id_message
from sluice.store.run_queries import TaskInstanceNotFound
from sluice.store.tables import DagRun, TaskInstance, TaskTry, XCom
from sluice.store.task_instances import get_instance

NO_STATE = "none"
"""How a filter names "no state yet" (NULL in the table), as Airflow's API does."""

_RUN_OF_TI = (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id)


@dataclass(frozen=True)
class InstanceFilter:
    """Which task instances a list holds; None (or empty) means no restriction."""

    dag_ids: Sequence[str] = ()
    run_id: str | None = None
    task_id: str | None = None
    states: Sequence[str] = ()
    """State values, ``none`` for instances with no state yet."""
    logical_date_gte: datetime | None = None
    logical_date_lte: datetime | None = None
    start_date_gte: datetime | None = None
    start_date_lte: datetime | None = None

    @property
    def needs_run(self) -> bool:
        """Whether a condition is on the run's columns (the count must join dag_run)."""
        return self.logical_date_gte is not None or self.logical_date_lte is not None


def _conditions(filters: InstanceFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if filters.dag_ids:
        found.append(TaskInstance.dag_id.in_(list(filters.dag_ids)))
    if filters.run_id is not None:
        found.append(TaskInstance.run_id == filters.run_id)
    if filters.task_id is not None:
        found.append(TaskInstance.task_id == filters.task_id)
    if filters.states:
        named = [s for s in filters.states if s != NO_STATE]
        either: list[ColumnElement[bool]] = [TaskInstance.state.in_(named)] if named else []
        if NO_STATE in filters.states:
            either.append(TaskInstance.state.is_(None))
        found.append(or_(*either))
    if filters.start_date_gte is not None:
        found.append(TaskInstance.start_date >= filters.start_date_gte)
    if filters.start_date_lte is not None:
        found.append(TaskInstance.start_date <= filters.start_date_lte)
    if filters.logical_date_gte is not None:
        found.append(DagRun.logical_date >= filters.logical_date_gte)
    if filters.logical_date_lte is not None:
        found.append(DagRun.logical_date <= filters.logical_date_lte)
    return found


def _one_run(filters: InstanceFilter) -> bool:
    return filters.run_id is not None and len(filters.dag_ids) == 1


def instances_query(filters: InstanceFilter) -> Select[TaskInstance, DagRun]:
    """The instances that match, each with its run. One run's instances come by task id and
    map index; any wider list newest first (by id: the primary key serves the order)."""
    query = select(TaskInstance, DagRun).join(DagRun, _RUN_OF_TI).where(*_conditions(filters))
    if _one_run(filters):
        return query.order_by(TaskInstance.task_id, TaskInstance.map_index)
    return query.order_by(TaskInstance.id.desc())


def _page_ids(session: Session, filters: InstanceFilter, limit: int, offset: int) -> list[int]:
    """The ids of one page of a wide list, newest first.

    Ids alone, without the run: an index that holds the filtered column also holds the
    id, so the database orders ids from the index instead of joining every matching row
    to its run before it sorts (what made Airflow's list slow).
    """
    query = select(TaskInstance.id)
    if filters.needs_run:
        query = query.join(DagRun, _RUN_OF_TI)
    query = query.where(*_conditions(filters)).order_by(TaskInstance.id.desc())
    return list(session.scalars(query.limit(limit).offset(offset)))


def count_instances(session: Session, filters: InstanceFilter) -> int:
    """How many instances match; dag_run is joined only when a condition needs it (the
    count then reads an index of task_instance alone)."""
    query = select(func.count()).select_from(TaskInstance)
    if filters.needs_run:
        query = query.join(DagRun, _RUN_OF_TI)
    return int(session.scalar(query.where(*_conditions(filters))) or 0)


def page_of_instances(
    session: Session, filters: InstanceFilter, limit: int, offset: int
) -> tuple[list[tuple[TaskInstance, DagRun]], int]:
    """One page of the matching instances (with their runs) and how many match in all."""
    if _one_run(filters):
        found = session.execute(instances_query(filters).limit(limit).offset(offset))
    else:
        ids = _page_ids(session, filters, limit, offset)
        found = session.execute(
            select(TaskInstance, DagRun)
            .join(DagRun, _RUN_OF_TI)
            .where(TaskInstance.id.in_(ids))
            .order_by(TaskInstance.id.desc())
        )
    rows = [(ti, run) for ti, run in found]
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)  # The whole list is here: no COUNT needed.
    return rows, count_instances(session, filters)


def instances_by_ids(session: Session, ids: Collection[int]) -> list[tuple[TaskInstance, DagRun]]:
    """These instances with their runs (unknown ids are left out), oldest run first."""
    if not ids:
        return []
    query = (
        select(TaskInstance, DagRun)
        .join(DagRun, _RUN_OF_TI)
        .where(TaskInstance.id.in_(list(ids)))
        .order_by(DagRun.logical_date, TaskInstance.task_id, TaskInstance.map_index)
    )
    return [(ti, run) for ti, run in session.execute(query)]


def task_map_indexes(
    session: Session, dag_id: str, run_id: str, task_id: str
) -> list[tuple[int, str | None]]:
    """(map index, state) of each instance of one task in one run, by map index."""
    rows = session.execute(
        select(TaskInstance.map_index, TaskInstance.state)
        .where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == task_id,
        )
        .order_by(TaskInstance.map_index)
    )
    return [(index, state) for index, state in rows]


def find_instance(
    session: Session, dag_id: str, run_id: str, task_id: str, map_index: int | None
) -> TaskInstance:
    """One instance of a run; without a map index, the task's only instance.

    TaskInstanceNotFound names close task ids, or the map indexes of a mapped task.
    """
    indexes = task_map_indexes(session, dag_id, run_id, task_id)
    where = f" in run '{run_id}' of DAG '{dag_id}'"
    if not indexes:
        known = session.scalars(
            select(TaskInstance.task_id)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            .distinct()
        )
        raise TaskInstanceNotFound(unknown_id_message("Task", task_id, known, where))
    listed = ", ".join(str(index) for index, _ in indexes)
    if map_index is None:
        if len(indexes) > 1:
            raise TaskInstanceNotFound(
                f"Task '{task_id}' is mapped into {len(indexes)} instances{where}; give"
                f" map_index (one of {listed})"
            )
        map_index = indexes[0][0]
    elif map_index not in {index for index, _ in indexes}:
        raise TaskInstanceNotFound(
            f"Task '{task_id}' has no map index {map_index}{where}; its map indexes are {listed}"
        )
    ti = get_instance(session, dag_id, run_id, task_id, map_index)
    if ti is None:  # Removed between the two reads.
        raise TaskInstanceNotFound(f"Task '{task_id}' map index {map_index} is gone{where}")
    return ti


# -- tries ---------------------------------------------------------------------------------


def _of_instance_tries(ti: TaskInstance) -> list[ColumnElement[bool]]:
    return [
        TaskTry.dag_id == ti.dag_id,
        TaskTry.run_id == ti.run_id,
        TaskTry.task_id == ti.task_id,
        TaskTry.map_index == ti.map_index,
    ]


def instance_tries(session: Session, ti: TaskInstance) -> list[TaskTry]:
    """Every recorded try of an instance, first try first (a handful: retries bound them)."""
    query = select(TaskTry).where(*_of_instance_tries(ti)).order_by(TaskTry.try_number)
    return list(session.scalars(query))


def get_try(session: Session, ti: TaskInstance, try_number: int) -> TaskTry | None:
    """One recorded try of an instance, or None when it has not started (or never will)."""
    query = select(TaskTry).where(*_of_instance_tries(ti), TaskTry.try_number == try_number)
    return session.scalar(query)


# -- XCom ----------------------------------------------------------------------------------


def _xcom_query(run: DagRun, ti: TaskInstance) -> Select[XCom]:
    # By the run's integer id: the (dag_run_id, task_id, map_index, key) unique key serves it.
    return select(XCom).where(
        XCom.dag_run_id == run.id, XCom.task_id == ti.task_id, XCom.map_index == ti.map_index
    )


def instance_xcoms_query(run: DagRun, ti: TaskInstance) -> Select[XCom]:
    """An instance's XCom rows by key (to paginate)."""
    return _xcom_query(run, ti).order_by(XCom.key)


def instance_xcoms(session: Session, run: DagRun, ti: TaskInstance, limit: int) -> list[XCom]:
    """At most ``limit`` of an instance's XCom rows, by key."""
    return list(session.scalars(instance_xcoms_query(run, ti).limit(limit)))


def instance_xcom(session: Session, run: DagRun, ti: TaskInstance, key: str) -> XCom | None:
    """One XCom row of an instance, by key."""
    return session.scalar(_xcom_query(run, ti).where(XCom.key == key))


def instance_xcom_keys(session: Session, run: DagRun, ti: TaskInstance) -> list[str]:
    """The keys an instance pushed (for a "not found" message)."""
    query = select(XCom.key).where(
        XCom.dag_run_id == run.id, XCom.task_id == ti.task_id, XCom.map_index == ti.map_index
    )
    return list(session.scalars(query.order_by(XCom.key)))
