"""REST API: the XCom values a task instance pushed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from sluice.api.deps import Ctx, DbSession, Paging, Reader
from sluice.api.pagination import Page, fetch
from sluice.api.problems import ApiError
from sluice.api.v1.task_instances import MapIndex, lookup
from sluice.core.suggestions import unknown_id_message
from sluice.core.xcom_codec import decode_xcom
from sluice.store.tables import XCom
from sluice.store.ti_listings import instance_xcom, instance_xcom_keys, instance_xcoms_query

router = APIRouter(tags=["XCom"])

PATH = "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries"


class XComEntryOut(BaseModel):
    """An XCom entry (without its value)."""

    key: str
    timestamp: datetime
    dag_id: str
    dag_run_id: str
    task_id: str
    map_index: int


class XComValueOut(XComEntryOut):
    """An XCom entry with its value."""

    value: Any = Field(description="The value as the task pushed it (JSON).")


def entry_fields(row: XCom) -> dict[str, Any]:
    """The fields every XCom answer has."""
    return {
        "key": row.key, "timestamp": row.timestamp, "dag_id": row.dag_id,
        "dag_run_id": row.run_id, "task_id": row.task_id, "map_index": row.map_index,
    }  # fmt: skip


def decoded(raw: str) -> Any:
    """A stored value, decoded (a value that is not valid stored JSON comes back as text)."""
    try:
        return decode_xcom(raw)
    except ValueError:
        return raw


@router.get(PATH, response_model=Page[XComEntryOut])
def list_xcom_entries(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    session: DbSession,
    page: Paging,
    user: Reader,
    map_index: MapIndex = None,
) -> Page[XComEntryOut]:
    """The XCom entries of a task instance, by key."""
    ti, run = lookup(session, dag_id, dag_run_id, task_id, map_index)
    rows, total = fetch(session, instance_xcoms_query(run, ti), page)
    items = [XComEntryOut(**entry_fields(row)) for (row,) in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(PATH + "/{xcom_key:path}", response_model=XComValueOut)
def get_xcom_entry(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    xcom_key: str,
    session: DbSession,
    ctx: Ctx,
    user: Reader,
    map_index: MapIndex = None,
) -> XComValueOut:
    """One XCom entry of a task instance, with its value."""
    ti, run = lookup(session, dag_id, dag_run_id, task_id, map_index)
    row = instance_xcom(session, run, ti, xcom_key)
    if row is None:
        keys = instance_xcom_keys(session, run, ti)
        where = f" for task '{task_id}' in run '{dag_run_id}'"
        raise ApiError(404, unknown_id_message("XCom key", xcom_key, keys, where))
    return XComValueOut(**entry_fields(row), value=ctx.secrets.redact(decoded(row.value), row.key))
