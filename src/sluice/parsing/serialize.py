"""Serializing a DAG to JSON and back: what the store keeps and the scheduler and UI read.

The JSON is ``{"version": 1, "dag": {...}}``. Its keys are the field names of
``SerializedDag``, ``SerializedTask`` and ``SerializedTaskGroup``; datetimes are ISO
strings in UTC, durations are seconds, id sets are sorted lists and tasks are listed in
topological order, so that the same DAG always gives the same text and hash.
``serialized_dag_to_dict(deserialize_dag(data)) == data`` for every valid ``data``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sluice.core.errors import DagDefinitionError, ParamValidationError, ParsingError
from sluice.parsing.serialized import (
    GROUP,
    TASK,
    SerializedDag,
    SerializedTask,
    SerializedTaskGroup,
)
from sluice.parsing.snapshot import snapshot_dag
from sluice.sdk.dag import DAG
from sluice.sdk.params import Param
from sluice.sdk.schedules import timetable_from_dict
from sluice.sdk.timetables.zones import UTC
from sluice.sdk.trigger_rules import parse_trigger_rule

__all__ = [
    "SERIALIZATION_VERSION",
    "SerializedDag",
    "SerializedTask",
    "SerializedTaskGroup",
    "canonical_json",
    "dag_hash",
    "dag_to_json",
    "deserialize_dag",
    "serialize_dag",
    "serialized_dag_to_dict",
]

SERIALIZATION_VERSION = 2
"""Bumped whenever the JSON changes shape; stored DAGs of another version are re-parsed."""


def serialize_dag(dag: DAG) -> dict[str, Any]:
    """The DAG as JSON-ready data (``json.dumps`` works on it); the same DAG gives the same data.

    Raises CycleError for a cycle, ParsingError for a timetable the scheduler could not
    rebuild (a custom Timetable subclass), DagDefinitionError for a setting of the wrong type.
    """
    return serialized_dag_to_dict(snapshot_dag(dag))


def dag_to_json(dag: DAG) -> str:
    """The DAG's canonical JSON text: sorted keys, no spaces."""
    return canonical_json(serialize_dag(dag))


def canonical_json(data: Mapping[str, Any]) -> str:
    """``data`` as canonical JSON text, the form ``dag_hash`` expects."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def dag_hash(dag_json: str) -> str:
    """The sha256 hex digest of a DAG's canonical JSON, to tell whether it changed."""
    return hashlib.sha256(dag_json.encode("utf-8")).hexdigest()


def serialized_dag_to_dict(dag: SerializedDag) -> dict[str, Any]:
    """The inverse of ``deserialize_dag``: the versioned JSON-ready dict."""
    return {"version": SERIALIZATION_VERSION, "dag": _encode(_DAG_FIELDS, dag)}


def deserialize_dag(data: dict[str, Any] | str) -> SerializedDag:
    """Rebuild a DAG's plain data from ``serialize_dag``'s dict or its JSON text.

    Raises ParsingError for text that is not JSON, another format version, or data
    that is missing keys or holds values of the wrong type.
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise ParsingError(f"serialized DAG is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ParsingError(f"serialized DAG must be a JSON object, got {type(data).__name__}")
    version = data.get("version")
    if version != SERIALIZATION_VERSION or isinstance(version, bool):
        raise ParsingError(
            f"serialized DAG has format version {version!r}; this Sluice reads version "
            f"{SERIALIZATION_VERSION}. Re-parse the DAG file to store it again."
        )
    body = data.get("dag")
    dag_id = body.get("dag_id") if isinstance(body, dict) else None
    try:
        if set(data) != {"version", "dag"}:
            raise _Malformed("", f"unexpected keys {sorted(set(data) - {'version', 'dag'})}")
        dag: SerializedDag = _decode(_DAG_FIELDS, SerializedDag, body, "dag")
        _check_graph(dag)
    except _Malformed as exc:
        name = f"'{dag_id}' " if isinstance(dag_id, str) else ""
        raise ParsingError(f"serialized DAG {name}is malformed: {exc}") from None
    return dag


# --- field codecs ----------------------------------------------------------------------


class _Malformed(Exception):
    """Raised inside decoding with the path of the bad value."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)


Encode = Callable[[Any], Any]
Decode = Callable[[Any, str], Any]
_Codec = tuple[Encode, Decode]


def _same(value: Any) -> Any:
    return value


def _typed(kind: type | tuple[type, ...], what: str, *, optional: bool = False) -> Decode:
    def decode(value: Any, path: str) -> Any:
        if value is None and optional:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _tuple(kind)):
            raise _Malformed(path, f"expected {what}, got {value!r:.80}")
        return value

    return decode


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _number(optional: bool) -> Decode:
    check = _typed((int, float), "a number of seconds", optional=optional)

    def decode(value: Any, path: str) -> Any:
        checked = check(value, path)
        return None if checked is None else float(checked)

    return decode


def _encode_datetime(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _decode_datetime(value: Any, path: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(_typed(str, "an ISO datetime")(value, path))
    except ValueError:
        raise _Malformed(path, f"{value!r} is not an ISO datetime") from None
    if moment.tzinfo is None:
        raise _Malformed(path, f"{value!r} has no UTC offset")
    return moment.astimezone(UTC)


def _strings(value: Any, path: str) -> list[str]:
    items = _check_string_list(value, path)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            _check_string(item, f"{path}[{i}]")
    return list(items)


def _string_dict(value: Any, path: str) -> dict[str, str]:
    mapping = _typed(dict, "an object")(value, path)
    for key, item in mapping.items():
        _check_string(item, f"{path}.{key}")
    return dict(mapping)


_check_string = _typed(str, "a string")
_check_string_list = _typed(list, "a list of strings")


def _decode_params(value: Any, path: str) -> dict[str, Any]:
    params = _typed(dict, "an object of params")(value, path)
    for name, dump in params.items():
        try:
            Param.load(_typed(dict, "a Param dump")(dump, f"{path}.{name}"))
        except (ParamValidationError, KeyError, TypeError) as exc:
            raise _Malformed(f"{path}.{name}", f"not a Param: {exc}") from None
    return dict(params)


def _decode_trigger_rule(value: Any, path: str) -> Any:
    try:
        return parse_trigger_rule(_typed(str, "a trigger rule")(value, path))
    except DagDefinitionError as exc:
        raise _Malformed(path, str(exc)) from None


def _decode_timetable(value: Any, path: str) -> Any:
    try:
        return timetable_from_dict(_typed(dict, "a timetable object")(value, path))
    except DagDefinitionError as exc:  # ScheduleError
        raise _Malformed(path, str(exc)) from None


_STR: _Codec = (_same, _typed(str, "a string"))
_OPT_STR: _Codec = (_same, _typed(str, "a string or null", optional=True))
_INT: _Codec = (_same, _typed(int, "an integer"))
_OPT_INT: _Codec = (_same, _typed(int, "an integer or null", optional=True))
_BOOL: _Codec = (_same, _typed(bool, "a boolean"))
_OPT_BOOL: _Codec = (_same, _typed(bool, "a boolean or null", optional=True))
_SECONDS: _Codec = (float, _number(optional=False))
_OPT_SECONDS: _Codec = (lambda v: None if v is None else float(v), _number(optional=True))
_DATETIME: _Codec = (_encode_datetime, _decode_datetime)
_IDS: _Codec = (sorted, lambda v, p: frozenset(_strings(v, p)))
_STRS: _Codec = (list, lambda v, p: tuple(_strings(v, p)))
_JSON: _Codec = (_same, lambda v, p: v)
_DICT: _Codec = (_same, _typed(dict, "an object"))
_OPT_DICT: _Codec = (_same, _typed(dict, "an object or null", optional=True))
_STR_DICT: _Codec = (dict, _string_dict)
_PARAMS: _Codec = (_same, _decode_params)
_TRIGGER_RULE: _Codec = (lambda rule: rule.value, _decode_trigger_rule)
_TIMETABLE: _Codec = (lambda timetable: timetable.serialize(), _decode_timetable)


def _encode(fields: Mapping[str, _Codec], obj: object) -> dict[str, Any]:
    return {name: codec[0](getattr(obj, name)) for name, codec in fields.items()}


def _decode(fields: Mapping[str, _Codec], cls: Callable[..., Any], value: Any, path: str) -> Any:
    data = _typed(dict, "an object")(value, path)
    missing = [name for name in fields if name not in data]
    if missing:
        raise _Malformed(path, f"missing key(s) {', '.join(map(repr, missing))}")
    extra = sorted(set(data) - set(fields))
    if extra:
        raise _Malformed(path, f"unknown key(s) {', '.join(map(repr, extra))}")
    return cls(**{name: codec[1](data[name], f"{path}.{name}") for name, codec in fields.items()})


def _encode_group(group: SerializedTaskGroup) -> dict[str, Any]:
    data = _encode(_GROUP_FIELDS, group)
    data["children"] = [
        [kind, _encode_group(child) if isinstance(child, SerializedTaskGroup) else child]
        for kind, child in group.children
    ]
    return data


def _decode_group(value: Any, path: str) -> SerializedTaskGroup:
    data = dict(_typed(dict, "an object")(value, path))
    if "children" not in data:
        raise _Malformed(path, "missing key(s) 'children'")
    raw_children = _typed(list, "a list")(data.pop("children"), f"{path}.children")
    own: dict[str, Any] = _decode(_GROUP_FIELDS, dict, data, path)
    children: list[tuple[str, str | SerializedTaskGroup]] = []
    for i, pair in enumerate(raw_children):
        where = f"{path}.children[{i}]"
        if not isinstance(pair, list) or len(pair) != 2 or pair[0] not in (TASK, GROUP):
            expected = '["task", id] or ["group", {...}]'
            raise _Malformed(where, f"expected {expected}, got {pair!r:.80}")
        if pair[0] == TASK:
            children.append((TASK, _typed(str, "a task id")(pair[1], f"{where}[1]")))
        else:
            children.append((GROUP, _decode_group(pair[1], f"{where}[1]")))
    return SerializedTaskGroup(**own, children=tuple(children))


def _encode_tasks(tasks: Mapping[str, SerializedTask]) -> list[dict[str, Any]]:
    return [_encode(_TASK_FIELDS, task) for task in tasks.values()]


def _decode_tasks(value: Any, path: str) -> dict[str, SerializedTask]:
    tasks: dict[str, SerializedTask] = {}
    for i, item in enumerate(_typed(list, "a list of tasks")(value, path)):
        task: SerializedTask = _decode(_TASK_FIELDS, SerializedTask, item, f"{path}[{i}]")
        if task.task_id in tasks:
            raise _Malformed(f"{path}[{i}]", f"duplicate task id '{task.task_id}'")
        tasks[task.task_id] = task
    return tasks


def _check_graph(dag: SerializedDag) -> None:
    """Dependencies name known tasks, agree both ways, and tasks come in topological order."""
    seen: set[str] = set()
    for tid, task in dag.tasks.items():
        where = f"dag.tasks['{tid}']"
        for up in sorted(task.upstream_task_ids):
            if up not in dag.tasks:
                raise _Malformed(where, f"upstream task '{up}' does not exist")
            if tid not in dag.tasks[up].downstream_task_ids:
                raise _Malformed(where, f"upstream '{up}' does not list it as downstream")
            if up not in seen:
                raise _Malformed(where, f"listed before its upstream task '{up}'")
        for down in sorted(task.downstream_task_ids):
            if down not in dag.tasks or tid not in dag.tasks[down].upstream_task_ids:
                raise _Malformed(where, f"downstream task '{down}' does not list it as upstream")
        seen.add(tid)
    grouped = list(dag.task_group.iter_task_ids())
    if sorted(grouped) != sorted(dag.tasks):
        raise _Malformed("dag.task_group", "does not hold each task exactly once")


_TASK_FIELDS: dict[str, _Codec] = {
    "task_id": _STR,
    "operator": _STR,
    "operator_module": _STR,
    "label": _STR,
    "group_id": _OPT_STR,
    "upstream_task_ids": _IDS,
    "downstream_task_ids": _IDS,
    "trigger_rule": _TRIGGER_RULE,
    "owner": _STR,
    "retries": _INT,
    "retry_delay": _SECONDS,
    "retry_exponential_backoff": _BOOL,
    "max_retry_delay": _OPT_SECONDS,
    "execution_timeout": _OPT_SECONDS,
    "depends_on_past": _BOOL,
    "wait_for_downstream": _BOOL,
    "pool": _STR,
    "pool_slots": _INT,
    "priority_weight": _INT,
    "weight_rule": _STR,
    "queue": _STR,
    "max_active_tis_per_dag": _OPT_INT,
    "email": _STRS,
    "email_on_failure": _BOOL,
    "email_on_retry": _BOOL,
    "do_xcom_push": _BOOL,
    "multiple_outputs": _BOOL,
    "start_date": _DATETIME,
    "end_date": _DATETIME,
    "doc_md": _OPT_STR,
    "params": _PARAMS,
    "template_fields": _STRS,
    "template_ext": _STRS,
    "template_fields_renderers": _STR_DICT,
    "template_values": _DICT,
    "operator_args": _DICT,
    "ui_color": _STR,
    "ui_fgcolor": _STR,
    "is_mapped": _BOOL,
    "mapping": _OPT_DICT,
    "has_on_execute_callback": _BOOL,
    "has_on_failure_callback": _BOOL,
    "has_on_success_callback": _BOOL,
    "has_on_retry_callback": _BOOL,
    "python_callable": _OPT_STR,
}

_GROUP_FIELDS: dict[str, _Codec] = {
    "group_id": _OPT_STR,
    "label": _OPT_STR,
    "tooltip": _STR,
    "ui_color": _STR,
    "prefix_group_id": _BOOL,
}
"""The group's own fields; ``children`` is handled by _encode_group and _decode_group."""

_DAG_FIELDS: dict[str, _Codec] = {
    "dag_id": _STR,
    "dag_display_name": _STR,
    "fileloc": _STR,
    "description": _OPT_STR,
    "doc_md": _OPT_STR,
    "schedule_summary": _STR,
    "timetable": _TIMETABLE,
    "timetable_description": _STR,
    "start_date": _DATETIME,
    "end_date": _DATETIME,
    "timezone": _STR,
    "catchup": _BOOL,
    "catchup_given": _BOOL,
    "max_active_runs": _INT,
    "max_active_tasks": _INT,
    "dagrun_timeout": _OPT_SECONDS,
    "tags": _STRS,
    "owner": _STR,
    "owner_links": _STR_DICT,
    "params": _PARAMS,
    "default_args": _DICT,
    "template_searchpath": _STRS,
    "render_template_as_native_obj": _BOOL,
    "is_paused_upon_creation": _OPT_BOOL,
    "has_on_success_callback": _BOOL,
    "has_on_failure_callback": _BOOL,
    "tasks": (_encode_tasks, _decode_tasks),
    "task_group": (_encode_group, _decode_group),
}
