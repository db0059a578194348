"""The audit log: who did what, and when, from the CLI, the REST API or the UI."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from sluice.store.tables import AuditLog

EVENT_LENGTH = 60


def log_event(
    session: Session,
    event: str,
    owner: str | None,
    dag_id: str | None = None,
    task_id: str | None = None,
    run_id: str | None = None,
    extra: Mapping[str, Any] | str | None = None,
    *,
    map_index: int | None = None,
) -> AuditLog:
    """Record one action (``cli_pools_set``, ``trigger``...); ``extra`` is a JSON object or text."""
    if isinstance(extra, Mapping):
        extra = json.dumps(extra, default=str, sort_keys=True)
    row = AuditLog(
        dttm=datetime.now(UTC),
        event=event[:EVENT_LENGTH],
        owner=owner,
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        map_index=map_index,
        extra=extra,
    )
    session.add(row)
    session.flush()
    return row
