"""How many instances a mapped task expands into, from its serialized mapping input.

Literal lists and dicts are counted as they are; another task's output is counted from
the XCom values that task pushed (one element per item of a plain task's list or dict;
one per map index of a mapped task). Several ``expand()`` arguments multiply, as the
cross product the runner builds.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.orm import Session

from sluice.core.errors import SluiceError
from sluice.parsing.json_values import XCOMARG_MARKER
from sluice.parsing.serialized import SerializedDag, SerializedTask
from sluice.store.xcoms import pull_values


class CannotExpand(SluiceError):
    """Raised when a mapped task's input cannot be counted.

    ``missing`` is True when an upstream task pushed no value (the task becomes
    upstream_failed, as in Airflow), False when the value is not a list or a dict (failed).
    """

    def __init__(self, message: str, *, missing: bool) -> None:
        super().__init__(message)
        self.missing = missing


def map_length(session: Session, dag: SerializedDag, task: SerializedTask, run_id: str) -> int:
    """The number of instances ``task`` expands into in run ``run_id``."""
    mapping = task.mapping or {}
    if mapping.get("expand_kwargs") is not None:
        source = mapping["expand_kwargs"]
        if _reference(source) is not None:
            return _xcom_length(session, dag, task, run_id, source, kwargs=True)
        return len(source)
    lengths = [
        _xcom_length(session, dag, task, run_id, value, kwargs=False)
        if _reference(value) is not None
        else len(value)
        for value in (mapping.get("expand") or {}).values()
    ]
    return math.prod(lengths) if lengths else 0


def _reference(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict) and set(value) == {XCOMARG_MARKER}:
        ref = value[XCOMARG_MARKER]
        return ref if isinstance(ref, dict) else None
    return None


def _xcom_length(
    session: Session,
    dag: SerializedDag,
    task: SerializedTask,
    run_id: str,
    value: Any,
    *,
    kwargs: bool,
) -> int:
    ref = _reference(value)
    assert ref is not None
    source_id, key = str(ref["task_id"]), str(ref.get("key", "return_value"))
    values = pull_values(session, dag.dag_id, run_id, source_id, key)
    where = f"task '{task.task_id}' maps over the output '{key}' of '{source_id}'"
    source = dag.tasks.get(source_id)
    if source is not None and source.is_mapped:
        # Each map index of a mapped upstream contributes one element.
        return sum(1 for index in values if index >= 0)
    if -1 not in values:
        raise CannotExpand(f"{where}, which pushed no value", missing=True)
    pushed = values[-1]
    if not isinstance(pushed, list) and (kwargs or not isinstance(pushed, dict)):
        needs = "a list of dicts (expand_kwargs)" if kwargs else "a list or a dict"
        raise CannotExpand(f"{where}, which is {type(pushed).__name__}, not {needs}", missing=False)
    return len(pushed)
