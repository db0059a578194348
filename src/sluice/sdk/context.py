"""The template context a task sees: dates, the run, the task instance, params, macros."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sluice.core.errors import SluiceError
from sluice.sdk.datetimes import as_context_datetime
from sluice.sdk.macros import make_macros

if TYPE_CHECKING:
    from sluice.sdk.dag import DAG
    from sluice.sdk.operator import AbstractOperator


@dataclass(frozen=True)
class RunInfo:
    """What a task needs to know about the DAG run it belongs to."""

    dag_id: str
    run_id: str
    run_type: str
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    conf: Mapping[str, Any] = field(default_factory=dict)
    start_date: datetime | None = None
    prev_data_interval_start_success: datetime | None = None
    prev_data_interval_end_success: datetime | None = None
    prev_start_date_success: datetime | None = None

    @property
    def external_trigger(self) -> bool:
        """Whether the run was started by a person or an API call, not the schedule."""
        return self.run_type == "manual"


class _Namespace:
    """``var.value.x``-style attribute access over a lookup function."""

    def __init__(self, kind: str, lookup: Callable[[str], Any]) -> None:
        self._kind = kind
        self._lookup = lookup

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        value = self._lookup(key)
        if value is None:
            raise SluiceError(f"{self._kind} '{key}' is not defined")
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """The value, or ``default`` when it is not defined."""
        value = self._lookup(key)
        return default if value is None else value


class VariableAccessor:
    """``{{ var.value.name }}`` (text) and ``{{ var.json.name }}`` (parsed JSON)."""

    def __init__(self, lookup: Callable[[str], str | None]) -> None:
        self.value = _Namespace("variable", lookup)
        self.json = _Namespace("variable", lambda key: _json_or_none(lookup(key), key))


def _json_or_none(raw: str | None, key: str) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SluiceError(f"variable '{key}' is not valid JSON: {exc}") from None


class ConnectionAccessor(_Namespace):
    """``{{ conn.my_db.host }}``."""

    def __init__(self, lookup: Callable[[str], Any]) -> None:
        super().__init__("connection", lookup)


CONTEXT_KEYS: frozenset[str] = frozenset(
    {
        "dag", "task", "ti", "task_instance", "dag_run", "run_id", "logical_date",
        "execution_date", "ds", "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz",
        "data_interval_start", "data_interval_end", "prev_data_interval_start_success",
        "prev_data_interval_end_success", "prev_start_date_success", "params", "conf", "var",
        "conn", "macros", "test_mode", "task_instance_key_str", "map_index",
        "triggering_dataset_events", "templates_dict",
    }
)  # fmt: skip
"""The keys of :func:`build_context`, and ``templates_dict`` that PythonOperator adds."""


def build_context(
    *,
    dag: DAG,
    task: AbstractOperator,
    run: RunInfo,
    ti: Any,
    dag_run: Any,
    params: Mapping[str, Any],
    variables: Callable[[str], str | None],
    connections: Callable[[str], Any],
    config: Any = None,
    test_mode: bool = False,
) -> dict[str, Any]:
    """The context passed to templates, ``execute`` and callbacks."""
    logical = as_context_datetime(run.logical_date)
    ds = logical.strftime("%Y-%m-%d")
    ds_nodash = logical.strftime("%Y%m%d")
    return {
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "dag_run": dag_run,
        "run_id": run.run_id,
        "logical_date": logical,
        "execution_date": logical,
        "ds": ds,
        "ds_nodash": ds_nodash,
        "ts": logical.isoformat(),
        "ts_nodash": logical.strftime("%Y%m%dT%H%M%S"),
        "ts_nodash_with_tz": logical.isoformat().replace("-", "").replace(":", ""),
        "data_interval_start": as_context_datetime(run.data_interval_start),
        "data_interval_end": as_context_datetime(run.data_interval_end),
        "prev_data_interval_start_success": as_context_datetime(
            run.prev_data_interval_start_success
        ),
        "prev_data_interval_end_success": as_context_datetime(run.prev_data_interval_end_success),
        "prev_start_date_success": as_context_datetime(run.prev_start_date_success),
        "params": dict(params),
        "conf": config,
        "var": VariableAccessor(variables),
        "conn": ConnectionAccessor(connections),
        "macros": make_macros(),
        "test_mode": test_mode,
        "task_instance_key_str": f"{dag.dag_id}__{task.task_id}__{ds_nodash}",
        "map_index": getattr(ti, "map_index", -1),
        "triggering_dataset_events": {},
    }
