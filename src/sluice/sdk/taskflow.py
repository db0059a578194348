"""TaskFlow: ``@task`` turns a function into a task; calling it wires XCom and dependencies."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from sluice.core.errors import DagDefinitionError
from sluice.sdk import definition_context
from sluice.sdk.context import CONTEXT_KEYS
from sluice.sdk.mapping import MappedOperator, OperatorPartial
from sluice.sdk.operator import BaseOperator, Context
from sluice.sdk.operators.bash import BashOperator
from sluice.sdk.operators.python import (
    PythonOperator,
    context_kwargs,
    follow_branches,
    short_circuit,
)
from sluice.sdk.taskgroup import task_group
from sluice.sdk.templating import make_environment, render_template
from sluice.sdk.xcom_arg import XComArg


class DecoratedPythonOperator(PythonOperator):
    """The operator behind ``@task``."""

    custom_operator_name: ClassVar[str] = "@task"


class DecoratedBranchOperator(DecoratedPythonOperator):
    """The operator behind ``@task.branch``."""

    custom_operator_name: ClassVar[str] = "@task.branch"

    def execute(self, context: Context) -> Any:
        """Choose the branch and skip the rest."""
        return follow_branches(self, super().execute(context))


class DecoratedShortCircuitOperator(DecoratedPythonOperator):
    """The operator behind ``@task.short_circuit``."""

    custom_operator_name: ClassVar[str] = "@task.short_circuit"

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context: Context) -> Any:
        """Let the run go on when the function's result is truthy."""
        return short_circuit(self, super().execute(context))


class DecoratedBashOperator(BashOperator):
    """The operator behind ``@task.bash``: the function returns the command to run."""

    custom_operator_name: ClassVar[str] = "@task.bash"
    template_fields: Sequence[str] = ("bash_command", "env", "cwd", "op_args", "op_kwargs")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("bash_command", "(set by the function at run time)")
        super().__init__(**kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})

    def execute(self, context: Context) -> Any:
        """Call the function for the command, render it, and run it."""
        kwargs = context_kwargs(self.python_callable, context, self.op_args, self.op_kwargs)
        command = self.python_callable(*self.op_args, **kwargs)
        if not isinstance(command, str) or not command.strip():
            raise TypeError(
                f"task '{self.task_id}': the @task.bash function must return a non-empty "
                f"command string, got {command!r}"
            )
        # Rendered like any template field: a command ending in ``.sh`` is a script file.
        self.bash_command = render_template(
            command, context, make_environment(self.dag), template_ext=tuple(self.template_ext)
        )
        return super().execute(context)


class TaskDecorator:
    """What ``@task`` returns: call it inside a DAG to add a task."""

    def __init__(
        self,
        function: Callable[..., Any],
        operator_class: type[BaseOperator],
        kwargs: dict[str, Any],
    ) -> None:
        if not callable(function):
            raise DagDefinitionError(f"@task needs a function, got {function!r}")
        self.function = function
        self.operator_class = operator_class
        self.kwargs = kwargs
        functools.update_wrapper(self, function)

    def override(self, **kwargs: Any) -> TaskDecorator:
        """The same task with some arguments changed (task_id, retries, ...)."""
        return TaskDecorator(self.function, self.operator_class, {**self.kwargs, **kwargs})

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        self._check_call(args, kwargs)
        op = self.operator_class(
            **self._operator_kwargs(),
            python_callable=self.function,
            op_args=args,
            op_kwargs=kwargs,
        )
        return XComArg(op)

    def partial(self, **kwargs: Any) -> TaskPartial:
        """Fix some of the function's arguments before ``expand``."""
        self._check_call((), kwargs, partial=True)
        return TaskPartial(self, kwargs)

    def expand(self, **kwargs: Any) -> XComArg:
        """One task instance per element of the given lists or upstream results."""
        return self.partial().expand(**kwargs)

    def expand_kwargs(self, value: Any) -> XComArg:
        """One task instance per dict of function arguments."""
        return self.partial().expand_kwargs(value)

    def _operator_kwargs(self) -> dict[str, Any]:
        kw = dict(self.kwargs)
        kw.setdefault("multiple_outputs", _returns_dict(self.function))
        kw.setdefault("doc_md", inspect.getdoc(self.function))
        kw["task_id"] = _free_task_id(kw.get("task_id") or self.function.__name__, kw)
        return kw

    def _check_call(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], partial: bool = False
    ) -> None:
        name = self.kwargs.get("task_id") or self.function.__name__
        signature = inspect.signature(self.function)
        try:
            bound = signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise DagDefinitionError(f"task '{name}': {exc}") from None
        if partial:
            return
        # Only context values (ti, ds, params, ...) may be left out: they are filled at run time.
        missing = [
            p.name
            for p in signature.parameters.values()
            if p.name not in bound.arguments
            and p.default is p.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            and p.name not in CONTEXT_KEYS
        ]
        if missing:
            names = ", ".join(repr(m) for m in missing)
            plural = "s" if len(missing) > 1 else ""
            raise DagDefinitionError(f"task '{name}': missing required argument{plural} {names}")


class TaskPartial:
    """``my_task.partial(...)``: waits for ``expand``."""

    def __init__(self, decorator: TaskDecorator, fixed: dict[str, Any]) -> None:
        self.decorator = decorator
        self.fixed = fixed

    def _partial(self) -> OperatorPartial:
        kw = self.decorator._operator_kwargs()
        return OperatorPartial(
            self.decorator.operator_class,
            {**kw, "python_callable": self.decorator.function, "op_kwargs": self.fixed},
            mapped_into="op_kwargs",
            callable_params=list(inspect.signature(self.decorator.function).parameters),
        )

    def expand(self, **kwargs: Any) -> XComArg:
        """Map over the function's arguments."""
        mapped: MappedOperator = self._partial().expand(**kwargs)
        # After expand() has named any unknown argument: that error says more.
        self.decorator._check_call((), {**self.fixed, **kwargs})
        return XComArg(mapped)

    def expand_kwargs(self, value: Any) -> XComArg:
        """Map over dicts of the function's arguments."""
        return XComArg(self._partial().expand_kwargs(value))


def _free_task_id(task_id: str, kwargs: Mapping[str, Any]) -> str:
    """Airflow's rule: calling the same @task twice gives ``name``, ``name__1``, ..."""
    dag = kwargs.get("dag") or definition_context.current_dag()
    if dag is None:
        return task_id
    group = definition_context.current_group(dag) or dag.task_group
    if group.child_id(task_id) not in dag.task_dict:
        return task_id
    n = 1
    while group.child_id(f"{task_id}__{n}") in dag.task_dict:
        n += 1
    return f"{task_id}__{n}"


def _returns_dict(function: Callable[..., Any]) -> bool:
    try:
        hints = typing.get_type_hints(function)
    except Exception:
        return False
    ret = hints.get("return")
    origin = typing.get_origin(ret) or ret
    # Airflow's infer_multiple_outputs: any Mapping return annotation.
    return isinstance(origin, type) and issubclass(origin, Mapping)


def _decorator_for(operator_class: type[BaseOperator]) -> Callable[..., Any]:
    def decorator(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
        if python_callable is not None:
            return TaskDecorator(python_callable, operator_class, kwargs)
        return lambda fn: TaskDecorator(fn, operator_class, kwargs)

    return decorator


class _TaskNamespace:
    """``@task``, ``@task.branch``, ``@task.short_circuit``, ``@task.bash``."""

    python = staticmethod(_decorator_for(DecoratedPythonOperator))
    branch = staticmethod(_decorator_for(DecoratedBranchOperator))
    short_circuit = staticmethod(_decorator_for(DecoratedShortCircuitOperator))
    bash = staticmethod(_decorator_for(DecoratedBashOperator))

    def __call__(self, python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
        return self.python(python_callable, **kwargs)


task = _TaskNamespace()

__all__ = ["task", "task_group"]
