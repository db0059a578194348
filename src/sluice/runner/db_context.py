"""What a try of a stored task instance sees: its run's facts from the database, the
operator for its map index, and the template context built from both."""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

import jinja2
from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from sluice.core.errors import StoreError, TaskNotFound
from sluice.core.messages import TaskInstanceKey
from sluice.core.states import DagRunState
from sluice.integrations.lookup import task_connection, task_variable
from sluice.runner.task_instance import RuntimeTaskInstance, RunView
from sluice.runner.task_params import resolve_task_params
from sluice.runner.xcom import XComStore
from sluice.sdk.context import RunInfo, build_context
from sluice.sdk.dag import DAG
from sluice.sdk.mapping import MappedOperator
from sluice.sdk.operator import BaseOperator
from sluice.sdk.templating import make_environment
from sluice.store.tables import DagRun

log = logging.getLogger("sluice.runner")


class RunRow(Protocol):
    """What a try reads of a DAG run: its ORM row, or a Core row of the dag_run table."""

    @property
    def id(self) -> int: ...
    @property
    def dag_id(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def run_type(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def conf(self) -> str: ...
    @property
    def logical_date(self) -> datetime: ...
    @property
    def data_interval_start(self) -> datetime | None: ...
    @property
    def data_interval_end(self) -> datetime | None: ...
    @property
    def start_date(self) -> datetime | None: ...


@dataclass(frozen=True)
class StoredRun:
    """A DAG run as its row says, with the latest successful run before it."""

    pk: int
    state: str
    row: RunRow
    prev_success: RunRow | None

    def run_info(self) -> RunInfo:
        """The run's facts for the context; StoreError if its conf is not a JSON object."""
        row, prev = self.row, self.prev_success
        try:
            conf = json.loads(row.conf or "{}")
        except json.JSONDecodeError as exc:
            conf = exc
        if not isinstance(conf, dict):
            raise StoreError(
                f"run '{row.run_id}' of DAG '{row.dag_id}' has a conf that is not a JSON "
                f"object: {conf}"
            )
        return RunInfo(
            dag_id=row.dag_id,
            run_id=row.run_id,
            run_type=row.run_type,
            logical_date=row.logical_date,
            data_interval_start=row.data_interval_start or row.logical_date,
            data_interval_end=row.data_interval_end or row.logical_date,
            conf=conf,
            start_date=row.start_date,
            prev_data_interval_start_success=prev.data_interval_start if prev else None,
            prev_data_interval_end_success=prev.data_interval_end if prev else None,
            prev_start_date_success=prev.start_date if prev else None,
        )


# Built once, with bound parameters, in Core (which costs less to run than ORM): each try
# runs them.
DAG_RUN = cast(Table, DagRun.__table__)
_RUN = select(DAG_RUN).where(
    DAG_RUN.c.dag_id == bindparam("dag_id"), DAG_RUN.c.run_id == bindparam("run_id")
)
_PREV_SUCCESS = (
    select(DAG_RUN)
    .where(
        DAG_RUN.c.dag_id == bindparam("dag_id"),
        DAG_RUN.c.state == DagRunState.SUCCESS.value,
        DAG_RUN.c.logical_date < bindparam("before"),
    )
    .order_by(DAG_RUN.c.logical_date.desc())
    .limit(1)
)


def load_run(session: Session, dag_id: str, run_id: str) -> StoredRun:
    """The run's row and the latest successful run before it (Airflow's ``prev_*_success``);
    StoreError if the run does not exist."""
    row = session.execute(_RUN, {"dag_id": dag_id, "run_id": run_id}).first()
    if row is None:
        raise StoreError(f"DAG '{dag_id}' has no run '{run_id}'")
    return stored_run(session, cast(RunRow, row))


def stored_run(session: Session, row: RunRow) -> StoredRun:
    """A run whose row was read already, with the latest successful run before it."""
    params = {"dag_id": row.dag_id, "before": row.logical_date}
    prev = session.execute(_PREV_SUCCESS, params).first()
    return StoredRun(pk=row.id, state=row.state, row=row, prev_success=cast(RunRow | None, prev))


@dataclass
class StoredTaskInstance(RuntimeTaskInstance):
    """The ``ti`` of a try whose instance is in the database: ``max_tries`` is the row's
    (a clear renews it), not the task's ``retries``."""

    stored_max_tries: int = 0

    @property
    def max_tries(self) -> int:
        """The row's ``max_tries``: the try number up to which a failure is retried."""
        return self.stored_max_tries


@dataclass
class PreparedTry:
    """Everything ``run_try`` takes."""

    task: BaseOperator
    ti: StoredTaskInstance
    context: dict[str, Any]
    env: jinja2.Environment


@dataclass(frozen=True)
class TryFacts:
    """What the database says about the try about to run."""

    key: TaskInstanceKey
    try_number: int
    max_tries: int
    first_try_start: datetime | None
    run: StoredRun


def prepare_try(dag: DAG, facts: TryFacts, xcom: XComStore, *, config: Any) -> PreparedTry:
    """The operator of the instance (one map index of a mapped task), its ``ti`` and context.

    Raises TaskNotFound when the task or the map index is not in the DAG any more.
    """
    key = facts.key
    task = dag.get_task(key.task_id)
    ti = StoredTaskInstance(
        dag=dag,
        task=task,
        run_id=key.run_id,
        xcom=xcom,
        map_index=key.map_index,
        try_number=facts.try_number,
        first_try_start=facts.first_try_start,
        stored_max_tries=facts.max_tries,
    )
    if isinstance(task, MappedOperator):
        concrete = _map_index_of(task, key.map_index, ti)
    elif key.map_index >= 0:
        raise TaskNotFound(
            f"task '{key.task_id}' is not mapped (any more), so it has no map index {key.map_index}"
        )
    else:
        assert isinstance(task, BaseOperator)
        concrete = fresh_copy(task, dag)
    ti.task = concrete
    info = facts.run.run_info()
    context = build_context(
        dag=dag,
        task=concrete,
        run=info,
        ti=ti,
        dag_run=RunView(info, state=facts.run.state),
        params=resolve_task_params(dag.params, getattr(concrete, "params", None), info.conf),
        variables=task_variable,
        connections=task_connection,
        config=config,
    )
    return PreparedTry(concrete, ti, context, make_environment(dag))


def _map_index_of(task: MappedOperator, map_index: int, ti: StoredTaskInstance) -> BaseOperator:
    """The operator for one map index, its arguments resolved from upstream XCom."""
    if map_index < 0:
        raise TaskNotFound(f"task '{task.task_id}' is mapped: run one of its map indexes")
    expansion = task.expansion(lambda arg: arg.resolve({"ti": ti}))
    if map_index >= len(expansion):
        raise TaskNotFound(
            f"task '{task.task_id}' has {len(expansion)} map indexes now, so none is {map_index}"
        )
    assert task.dag is not None
    return fresh_copy(task.unmap(expansion[map_index]), task.dag)


def fresh_copy(task: BaseOperator, dag: DAG) -> BaseOperator:
    """A deep copy sharing the DAG, its tasks and groups: rendering and the task's own code
    change the operator, and a warm worker's cached DAG must not see that."""
    memo: dict[int, Any] = {id(t): t for t in dag.task_dict.values()}
    memo[id(dag)] = dag
    memo.pop(id(task), None)
    memo[id(task.task_group)] = task.task_group
    try:
        return copy.deepcopy(task, memo)
    except Exception as exc:  # a client, a lock, ... held by the task
        log.warning(
            "task %s cannot be deep-copied (%s: %s); what it changes in itself stays in this "
            "worker's copy of the DAG",
            task.task_id,
            type(exc).__name__,
            exc,
        )
        return copy.copy(task)
