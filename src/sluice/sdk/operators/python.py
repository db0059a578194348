"""PythonOperator and its branching and short-circuiting variants."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from sluice.core.errors import DagDefinitionError, DownstreamTasksSkipped
from sluice.sdk.operator import BaseOperator, Context
from sluice.sdk.taskgroup import TaskGroup


class CallsPython:
    """What PythonOperator and PythonSensor share: the callable, its arguments, and the
    call with the context values it asks for."""

    template_fields: Sequence[str] = ("templates_dict", "op_args", "op_kwargs")
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "templates_dict": "json",
        "op_args": "py",
        "op_kwargs": "py",
    }
    task_id: str
    python_callable: Callable[..., Any]
    op_args: list[Any]
    op_kwargs: dict[str, Any]
    templates_dict: dict[str, Any] | None

    def _set_callable(
        self,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None,
        op_kwargs: Mapping[str, Any] | None,
        templates_dict: dict[str, Any] | None,
    ) -> None:
        if not callable(python_callable):
            raise DagDefinitionError(
                f"task '{self.task_id}': python_callable must be callable, got {python_callable!r}"
            )
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict

    def _call_python(self, context: Context) -> Any:
        """Call the function with its arguments and the context values it asks for."""
        context["templates_dict"] = self.templates_dict
        kwargs = context_kwargs(self.python_callable, context, self.op_args, self.op_kwargs)
        return self.python_callable(*self.op_args, **kwargs)


class PythonOperator(CallsPython, BaseOperator):
    """Calls ``python_callable(*op_args, **op_kwargs)``, adding the context values it asks for."""

    ui_color = "#ffefeb"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        templates_exts: Sequence[str] | None = None,
        show_return_value_in_logs: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._set_callable(python_callable, op_args, op_kwargs, templates_dict)
        if templates_exts:
            self.template_ext = tuple(templates_exts)
        self.show_return_value_in_logs = show_return_value_in_logs

    def execute(self, context: Context) -> Any:
        """Call the function with its arguments and the context values it asks for."""
        return self._call_python(context)


def context_kwargs(
    fn: Callable[..., Any],
    context: Mapping[str, Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """``kwargs`` plus the context values whose names the function declares (all with ``**``)."""
    signature = inspect.signature(fn)
    params = signature.parameters
    merged = dict(kwargs)
    positional = [
        name for name, p in params.items()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ][: len(args)]  # fmt: skip
    takes_var_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())
    for key, value in context.items():
        if key in merged or key in positional:
            continue
        if takes_var_kw or (key in params and params[key].kind != params[key].VAR_POSITIONAL):
            merged[key] = value
    return merged


class BranchPythonOperator(PythonOperator):
    """Runs the callable, which names the task(s) to follow; other direct downstream skip."""

    ui_color = "#ffd6a5"

    def execute(self, context: Context) -> Any:
        """Choose the branch and skip the rest."""
        return follow_branches(self, super().execute(context))


def follow_branches(task: BaseOperator, chosen: str | Iterable[str] | None) -> Any:
    """Skip every direct downstream task not chosen (a TaskGroup id means its first tasks)."""
    ids: set[str] = set()
    if chosen is not None:
        ids = {chosen} if isinstance(chosen, str) else set(chosen)
    dag = task._require_dag()
    resolved: set[str] = set()
    groups = {g.group_id: g for g in _walk_groups(dag.task_group)}
    for tid in ids:
        if not isinstance(tid, str):
            raise DagDefinitionError(
                f"task '{task.task_id}': branch returned {tid!r}, not a task id"
            )
        if tid in groups:
            resolved.update(t.task_id for t in groups[tid].get_roots())
        elif tid in dag.task_dict:
            resolved.add(tid)
        else:
            raise DagDefinitionError(
                f"task '{task.task_id}': branch returned '{tid}', which is not a task or group "
                f"of DAG '{dag.dag_id}'"
            )
    # As Airflow: a direct downstream task that is also downstream of a chosen task
    # (``branch >> a >> join`` with ``branch >> join``) is followed, not skipped.
    followed = set(resolved)
    for tid in resolved:
        followed |= dag.task_dict[tid].get_flat_relative_ids(upstream=False)
    skip = sorted(task.downstream_task_ids - followed)
    raise DownstreamTasksSkipped(skip, return_value=chosen)


def _walk_groups(group: TaskGroup) -> Iterable[TaskGroup]:
    for child in group.children.values():
        if isinstance(child, TaskGroup):
            yield child
            yield from _walk_groups(child)


class ShortCircuitOperator(PythonOperator):
    """Runs the callable; if it returns a falsy value, the downstream tasks skip."""

    ui_color = "#ffe5b4"

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context: Context) -> Any:
        """Let the run go on when the condition is truthy."""
        return short_circuit(self, super().execute(context))


def short_circuit(task: BaseOperator, condition: Any) -> Any:
    """Skip downstream when ``condition`` is falsy: all of it, or only the direct tasks."""
    if condition:
        return condition
    if getattr(task, "ignore_downstream_trigger_rules", True):
        skip = task.get_flat_relative_ids(upstream=False)
    else:
        skip = set(task.downstream_task_ids)
    raise DownstreamTasksSkipped(sorted(skip), return_value=condition)
