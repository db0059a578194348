"""Reading a live DAG (operators, groups, params) into the plain ``SerializedDag`` data."""

from __future__ import annotations

import heapq
import inspect
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sluice.core.errors import DagDefinitionError, ParsingError, ScheduleError
from sluice.core.secrets_names import redact_sensitive_keys
from sluice.parsing.json_values import json_safe, qualified_name
from sluice.parsing.serialized import (
    GROUP,
    TASK,
    SerializedDag,
    SerializedTask,
    SerializedTaskGroup,
)
from sluice.sdk.dag import DAG
from sluice.sdk.mapping import MappedOperator
from sluice.sdk.operator import AbstractOperator, BaseOperator
from sluice.sdk.params import ParamsDict
from sluice.sdk.schedules import Timetable, timetable_from_dict
from sluice.sdk.taskgroup import TaskGroup
from sluice.sdk.timetables.zones import ensure_utc, parse_timezone, timezone_name

_EMAIL_SEPARATORS = re.compile(r"[,;]")


def snapshot_dag(dag: DAG) -> SerializedDag:
    """The DAG as plain data; raises on a cycle or a setting that cannot be stored."""
    where = f"DAG '{dag.dag_id}'"
    tasks = {tid: _snapshot_task(dag.task_dict[tid], dag) for tid in topological_ids(dag)}
    try:
        timezone = timezone_name(parse_timezone(dag.timezone))
    except ScheduleError as exc:
        raise DagDefinitionError(f"{where}: {exc}") from None
    return SerializedDag(
        dag_id=dag.dag_id,
        dag_display_name=dag.dag_display_name,
        fileloc=str(dag.fileloc),
        description=dag.description,
        doc_md=dag.doc_md,
        schedule_summary=dag.timetable.summary,
        timetable=_stored_timetable(dag),
        timetable_description=dag.timetable.description,
        start_date=to_utc(dag.start_date, f"{where}: start_date"),
        end_date=to_utc(dag.end_date, f"{where}: end_date"),
        timezone=timezone,
        catchup=dag.catchup,
        catchup_given=dag.catchup_given,
        max_active_runs=dag.max_active_runs,
        max_active_tasks=dag.max_active_tasks,
        dagrun_timeout=to_seconds(dag.dagrun_timeout, f"{where}: dagrun_timeout"),
        tags=tuple(sorted(dag.tags)),
        owner=dag.owner,
        owner_links={str(k): str(v) for k, v in dag.owner_links.items()},
        params=_params(dag.params),
        default_args=json_safe(dag.default_args),
        template_searchpath=tuple(str(p) for p in dag.template_searchpath),
        render_template_as_native_obj=bool(dag.render_template_as_native_obj),
        is_paused_upon_creation=(
            None if dag.is_paused_upon_creation is None else bool(dag.is_paused_upon_creation)
        ),
        has_on_success_callback=bool(dag.on_success_callback),
        has_on_failure_callback=bool(dag.on_failure_callback),
        tasks=tasks,
        task_group=_snapshot_group(dag.task_group),
    )


def topological_ids(dag: DAG) -> list[str]:
    """Task ids, each after its upstream; ties go to the smallest id, so order is stable."""
    remaining = {tid: len(t.upstream_task_ids) for tid, t in dag.task_dict.items()}
    ready = [tid for tid, count in remaining.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        tid = heapq.heappop(ready)
        order.append(tid)
        for down in dag.task_dict[tid].downstream_task_ids:
            remaining[down] -= 1
            if remaining[down] == 0:
                heapq.heappush(ready, down)
    if len(order) != len(remaining):
        dag.topological_sort()  # raises CycleError naming the cycle
        raise DagDefinitionError(f"DAG '{dag.dag_id}': inconsistent task dependencies")
    return order


def to_utc(value: object, what: str) -> datetime | None:
    """An aware UTC datetime; a naive one is read as UTC, as the DAG does."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise DagDefinitionError(f"{what} must be a datetime, got {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return ensure_utc(value, what)


def to_seconds(value: object, what: str) -> float | None:
    """A timedelta or a number of seconds, as float seconds."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise DagDefinitionError(f"{what} must be a timedelta or seconds, got {value!r}")


def _stored_timetable(dag: DAG) -> Timetable:
    # Rebuilt from its dict: what the scheduler will get back, and proof it can be stored.
    timetable = dag.timetable
    try:
        return timetable_from_dict(timetable.serialize())
    except ScheduleError as exc:
        raise ParsingError(
            f"DAG '{dag.dag_id}': its timetable {type(timetable).__name__} cannot be stored "
            f"for the scheduler ({exc}); use a schedule string, a timedelta or one of the "
            "timetables in sluice.timetables"
        ) from None


def _snapshot_task(task: AbstractOperator, dag: DAG) -> SerializedTask:
    where = f"DAG '{dag.dag_id}', task '{task.task_id}'"
    mapped = task if isinstance(task, MappedOperator) else None
    cls: type[BaseOperator] = mapped.operator_class if mapped else type(task)  # type: ignore[assignment]
    source: Any = cls if mapped else task  # where class-level settings are read from

    def attr(name: str, default: Any = None) -> Any:
        # A mapped task reads its partial() arguments, then the operator's defaults.
        return getattr(task, name, default)

    template_fields = tuple(str(f) for f in cls.template_fields)
    template_ext: Any = source.template_ext
    if mapped and mapped.partial_kwargs.get("templates_exts"):
        template_ext = mapped.partial_kwargs["templates_exts"]
    python_callable = attr("python_callable")
    group = task.task_group
    wait_for_downstream = bool(attr("wait_for_downstream", False))
    try:
        return SerializedTask(
            task_id=task.task_id,
            operator=getattr(cls, "custom_operator_name", None) or cls.__name__,
            operator_module=cls.__module__,
            label=task.label,
            group_id=group.group_id if group is not None else None,
            upstream_task_ids=frozenset(task.upstream_task_ids),
            downstream_task_ids=frozenset(task.downstream_task_ids),
            trigger_rule=task.trigger_rule,
            owner=str(attr("owner", "sluice")),
            retries=int(attr("retries") or 0),
            retry_delay=to_seconds(attr("retry_delay"), f"{where}: retry_delay") or 0.0,
            retry_exponential_backoff=bool(attr("retry_exponential_backoff", False)),
            max_retry_delay=to_seconds(attr("max_retry_delay"), f"{where}: max_retry_delay"),
            execution_timeout=to_seconds(attr("execution_timeout"), f"{where}: execution_timeout"),
            depends_on_past=bool(attr("depends_on_past", False)) or wait_for_downstream,
            wait_for_downstream=wait_for_downstream,
            pool=str(attr("pool") or "default_pool"),
            pool_slots=int(attr("pool_slots", 1)),
            priority_weight=int(attr("priority_weight", 1)),
            weight_rule=str(attr("weight_rule", "downstream")),
            queue=str(attr("queue", "default")),
            max_active_tis_per_dag=_optional_int(attr("max_active_tis_per_dag")),
            email=_emails(attr("email")),
            email_on_failure=bool(attr("email_on_failure", True)),
            email_on_retry=bool(attr("email_on_retry", True)),
            do_xcom_push=bool(attr("do_xcom_push", True)),
            multiple_outputs=bool(attr("multiple_outputs", False)),
            start_date=to_utc(attr("start_date"), f"{where}: start_date"),
            end_date=to_utc(attr("end_date"), f"{where}: end_date"),
            doc_md=_optional_str(attr("doc_md")),
            params=_params(attr("params")),
            template_fields=template_fields,
            template_ext=tuple(str(e) for e in template_ext or ()),
            template_fields_renderers={
                str(k): str(v) for k, v in cls.template_fields_renderers.items()
            },
            template_values=redact_sensitive_keys(
                {name: json_safe(attr(name)) for name in template_fields}
            ),
            operator_args=_operator_args(cls, attr, template_fields),
            ui_color=str(source.ui_color),
            ui_fgcolor=str(source.ui_fgcolor),
            is_mapped=mapped is not None,
            mapping=_mapping(mapped) if mapped else None,
            has_on_execute_callback=bool(attr("on_execute_callback")),
            has_on_failure_callback=bool(attr("on_failure_callback")),
            has_on_success_callback=bool(attr("on_success_callback")),
            has_on_retry_callback=bool(attr("on_retry_callback")),
            python_callable=qualified_name(python_callable) if callable(python_callable) else None,
        )
    except (TypeError, ValueError) as exc:  # partial() arguments are not checked earlier
        raise DagDefinitionError(f"{where}: {exc}") from None


_BASE_ARGUMENTS = frozenset(inspect.signature(BaseOperator.__init__).parameters)
"""Arguments every operator takes: the serialized task has a field for each."""
_SHOWN_ELSEWHERE = frozenset({"self", "kwargs", "python_callable"})
_ABSENT = object()


def _operator_args(
    cls: type[BaseOperator], attr: Any, template_fields: tuple[str, ...]
) -> dict[str, Any]:
    """The arguments a subclass adds (a sensor's ``mode``, an operator's ``conn_id``), read
    back from the attributes of the same name, for the UI's task details."""
    names = cls._init_params - _BASE_ARGUMENTS - _SHOWN_ELSEWHERE - set(template_fields)
    found: dict[str, Any] = {}
    for name in sorted(names):
        value = attr(name, _ABSENT)
        if value is _ABSENT:
            continue  # the operator keeps it under another name, or not at all
        found[name] = json_safe(value)
    result: dict[str, Any] = redact_sensitive_keys(found)  # a secret-named argument too
    return result


def _mapping(task: MappedOperator) -> dict[str, Any]:
    expand = task.expand_input
    expand_kwargs = task.expand_kwargs_input
    return {
        "expand": None if expand is None else json_safe(expand),
        "expand_kwargs": None if expand_kwargs is None else json_safe(expand_kwargs),
        "mapped_into": task.mapped_into,
    }


def _snapshot_group(group: TaskGroup) -> SerializedTaskGroup:
    children: list[tuple[str, str | SerializedTaskGroup]] = []
    for key in sorted(group.children):
        child = group.children[key]
        if isinstance(child, TaskGroup):
            children.append((GROUP, _snapshot_group(child)))
        else:
            children.append((TASK, child.task_id))
    return SerializedTaskGroup(
        group_id=group.group_id,
        label=group.label,
        tooltip=str(group.tooltip or ""),
        ui_color=str(group.ui_color),
        prefix_group_id=bool(group.prefix_group_id),
        children=tuple(children),
    )


def _params(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, ParamsDict):
        value = ParamsDict(value)  # type: ignore[arg-type]
    return {name: json_safe(param.dump()) for name, param in value.as_plain().items()}


def _emails(value: object) -> tuple[str, ...]:
    # Airflow accepts one address, a comma- or semicolon-separated string, or a list.
    if not value:
        return ()
    items = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    found: list[str] = []
    for item in items:
        found.extend(p.strip() for p in _EMAIL_SEPARATORS.split(str(item)) if p.strip())
    return tuple(found)


def _optional_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)
