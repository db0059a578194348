"""XCom values in the database: the store a running task pushes to and pulls from, and the
queries the scheduler uses to expand mapped tasks."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, insert, select
from sqlalchemy.orm import Session

from sluice.core.errors import XComError
from sluice.core.xcom_codec import decode_xcom
from sluice.store.engine import Store
from sluice.store.tables import DagRun, XCom
from sluice.store.transitions import now

RETURN_VALUE = "return_value"


def run_pk(session: Session, dag_id: str, run_id: str) -> int:
    """The integer id of a DAG run; XComError if the run does not exist."""
    pk = session.scalar(select(DagRun.id).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if pk is None:
        raise XComError(f"DAG '{dag_id}' has no run '{run_id}' to hold XCom values")
    return pk


# Built once, with bound parameters: a try's statements are run more often than built.
_XCOM = cast(Table, XCom.__table__)
_OF_INSTANCE = and_(
    _XCOM.c.dag_run_id == bindparam("k_run"),
    _XCOM.c.task_id == bindparam("k_task_id"),
    _XCOM.c.map_index == bindparam("k_map_index"),
)
_CLEAR = delete(_XCOM).where(_OF_INSTANCE)
_DROP_KEY = delete(_XCOM).where(_OF_INSTANCE, _XCOM.c.key == bindparam("k_key"))
_ADD = insert(_XCOM)
_GET = select(_XCOM.c.value).where(_OF_INSTANCE, _XCOM.c.key == bindparam("k_key"))


def _instance(dag_run_pk: int, task_id: str, map_index: int) -> dict[str, object]:
    return {"k_run": dag_run_pk, "k_task_id": task_id, "k_map_index": map_index}


def clear_xcoms(session: Session, dag_run_pk: int, task_id: str, map_index: int) -> None:
    """Drop a task instance's values (as a new try starts)."""
    session.execute(_CLEAR, _instance(dag_run_pk, task_id, map_index))


def put_xcom(
    session: Session,
    dag_run_pk: int,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
    key: str,
    value: str,
) -> None:
    """Store an encoded value, replacing one with the same key."""
    # Delete then insert: one statement shape on every backend (no dialect upserts).
    session.execute(_DROP_KEY, {**_instance(dag_run_pk, task_id, map_index), "k_key": key})
    session.execute(
        _ADD,
        {
            "dag_run_id": dag_run_pk,
            "task_id": task_id,
            "map_index": map_index,
            "key": key,
            "dag_id": dag_id,
            "run_id": run_id,
            "value": value,
            "timestamp": now(),
        },
    )


def get_xcom(
    session: Session, dag_run_pk: int, task_id: str, map_index: int, key: str
) -> str | None:
    """One encoded value, or None."""
    value: str | None = session.scalar(
        _GET, {**_instance(dag_run_pk, task_id, map_index), "k_key": key}
    )
    return value


class DbXComStore:
    """The XCom values of one DAG run, read and written in the database.

    Each write is a transaction of its own, so a value is visible to other processes as soon
    as it is pushed, as in Airflow.
    """

    def __init__(self, store: Store, dag_id: str, run_id: str, run_pk: int | None = None) -> None:
        self.store = store
        self.dag_id = dag_id
        self.run_id = run_id
        self._pk: int | None = run_pk
        """The run's integer id: given by a caller that knows it, else read when first needed."""

    def _run(self, session: Session) -> int:
        if self._pk is None:
            self._pk = run_pk(session, self.dag_id, self.run_id)
        return self._pk

    def set(self, task_id: str, map_index: int, key: str, value: str) -> None:
        """Store an encoded value, replacing one with the same key."""
        with self.store.transaction() as session:
            put_xcom(session, self._run(session), self.dag_id, self.run_id,
                     task_id, map_index, key, value)  # fmt: skip

    def get(self, task_id: str, map_index: int, key: str) -> str | None:
        """The encoded value, or None."""
        with self.store.transaction() as session:
            return get_xcom(session, self._run(session), task_id, map_index, key)

    def map_indexes(self, task_id: str, key: str) -> list[int]:
        """The map indexes that have a value for this key, ascending."""
        with self.store.transaction() as session:
            query = (
                select(XCom.map_index)
                .where(
                    XCom.dag_run_id == self._run(session),
                    XCom.task_id == task_id,
                    XCom.key == key,
                )
                .order_by(XCom.map_index)
            )
            return list(session.scalars(query))

    def clear(self, task_id: str, map_index: int) -> None:
        """Drop a task instance's values."""
        with self.store.transaction() as session:
            clear_xcoms(session, self._run(session), task_id, map_index)


def pull_values(
    session: Session, dag_id: str, run_id: str, task_id: str, key: str = RETURN_VALUE
) -> dict[int, Any]:
    """A task's decoded values for ``key`` in one run, by map index (-1 for a plain task)."""
    query = (
        select(XCom.map_index, XCom.value)
        .join(DagRun, DagRun.id == XCom.dag_run_id)
        .where(
            DagRun.dag_id == dag_id,
            DagRun.run_id == run_id,
            XCom.task_id == task_id,
            XCom.key == key,
        )
        .order_by(XCom.map_index)
    )
    return {index: decode_xcom(raw) for index, raw in session.execute(query)}


def xcom_lengths(
    session: Session, dag_id: str, run_id: str, task_id: str, key: str = RETURN_VALUE
) -> dict[int, int | None]:
    """How many items each value of a task holds, by map index: what a mapped task that
    expands over it needs. None for a value that is not a list or a dict (it cannot be
    mapped over)."""
    values = pull_values(session, dag_id, run_id, task_id, key)
    return {index: _length(value) for index, value in values.items()}


def _length(value: Any) -> int | None:
    # Decoded JSON: lists and dicts are what expand() maps over.
    return len(value) if isinstance(value, list | dict) else None
