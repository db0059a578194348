"""Dynamic task mapping: ``Op.partial(...).expand(...)`` and ``expand_kwargs``."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sluice.core.errors import DagDefinitionError
from sluice.sdk import definition_context
from sluice.sdk.abstract_operator import AbstractOperator, collect_default_args
from sluice.sdk.trigger_rules import parse_trigger_rule
from sluice.sdk.xcom_arg import XComArg, find_xcom_args

if TYPE_CHECKING:
    from sluice.sdk.operator import BaseOperator

# Arguments that belong to the task itself and can never be mapped.
_UNMAPPABLE = frozenset({"task_id", "dag", "task_group", "default_args"})

Resolver = Callable[[XComArg], Any]


class OperatorPartial:
    """The fixed half of a mapped task, waiting for ``expand`` or ``expand_kwargs``."""

    def __init__(
        self,
        operator_class: type[BaseOperator],
        kwargs: dict[str, Any],
        *,
        mapped_into: str | None = None,
        callable_params: Sequence[str] = (),
    ) -> None:
        if "task_id" not in kwargs:
            raise DagDefinitionError(f"{operator_class.__name__}.partial() needs a task_id")
        self.operator_class = operator_class
        self.kwargs = kwargs
        # TaskFlow maps the function's arguments, which live inside op_kwargs.
        self.mapped_into = mapped_into
        self.callable_params = tuple(callable_params)
        self._used = False

    def expand(self, **mapped: Any) -> MappedOperator:
        """One task instance per element (the cross product for several arguments)."""
        if not mapped:
            raise DagDefinitionError(f"task '{self.kwargs['task_id']}': expand() needs arguments")
        for name, value in mapped.items():
            self._check_name(name)
            if not isinstance(value, list | tuple | dict | XComArg):
                raise DagDefinitionError(
                    f"task '{self.kwargs['task_id']}': expand() argument '{name}' must be a "
                    f"list, a dict or another task's output, got {type(value).__name__}"
                )
        return self._build(mapped, None)

    def expand_kwargs(self, value: Sequence[Mapping[str, Any]] | XComArg) -> MappedOperator:
        """One task instance per dict of arguments."""
        if isinstance(value, XComArg):
            return self._build(None, value)
        if not isinstance(value, list | tuple):
            raise DagDefinitionError(
                f"task '{self.kwargs['task_id']}': expand_kwargs() takes a list of dicts "
                f"or another task's output, got {type(value).__name__}"
            )
        for item in value:
            if not isinstance(item, Mapping):
                raise DagDefinitionError(
                    f"task '{self.kwargs['task_id']}': expand_kwargs() items must be dicts, "
                    f"got {type(item).__name__}"
                )
            for name in item:
                self._check_name(name)
        return self._build(None, list(value))

    def _check_name(self, name: str) -> None:
        task_id = self.kwargs["task_id"]
        if name in _UNMAPPABLE:
            raise DagDefinitionError(f"task '{task_id}': '{name}' cannot be mapped")
        known = self.callable_params if self.mapped_into else self.operator_class._init_params
        if name not in known:
            raise DagDefinitionError(
                f"task '{task_id}': expand() got an unexpected argument '{name}'"
            )
        fixed = self.kwargs.get(self.mapped_into, {}) if self.mapped_into else self.kwargs
        if name in fixed:
            raise DagDefinitionError(
                f"task '{task_id}': '{name}' is given to both partial() and expand()"
            )

    def _build(
        self, mapped: dict[str, Any] | None, kwargs_input: list[Any] | XComArg | None
    ) -> MappedOperator:
        if self._used:
            raise DagDefinitionError(f"task '{self.kwargs['task_id']}': partial() used twice")
        self._used = True
        return MappedOperator(self, mapped, kwargs_input)


class MappedOperator(AbstractOperator):
    """A task that becomes N task instances at run time, N known only then."""

    is_mapped: ClassVar[bool] = True

    def __init__(
        self,
        partial: OperatorPartial,
        mapped: dict[str, Any] | None,
        kwargs_input: list[Any] | XComArg | None,
    ) -> None:
        kwargs = dict(partial.kwargs)
        dag = kwargs.pop("dag", None)
        group = kwargs.pop("task_group", None)
        defaults = collect_default_args({**kwargs, "dag": dag, "task_group": group})
        self.operator_class = partial.operator_class
        self.mapped_into = partial.mapped_into
        self.expand_input = mapped
        self.expand_kwargs_input = kwargs_input
        self.partial_kwargs = {
            **{k: v for k, v in defaults.items() if k in self.operator_class._init_params},
            **kwargs,
        }
        task_id = self.partial_kwargs.pop("task_id")
        self._attach(task_id, dag, group)
        self.trigger_rule = parse_trigger_rule(
            self.partial_kwargs.get("trigger_rule", "all_success")
        )
        self._defaults = _signature_defaults(self.operator_class)
        self.template_fields = self.operator_class.template_fields
        for arg in self.iter_xcom_dependencies():
            self.set_upstream(arg.operator)

    def __getattr__(self, name: str) -> Any:
        # Task attributes (retries, pool, owner...) read through to the partial arguments.
        if name.startswith("__") or name in ("partial_kwargs", "_defaults"):
            raise AttributeError(name)
        if name in self.partial_kwargs:
            return self.partial_kwargs[name]
        if name in self._defaults:
            return self._defaults[name]
        raise AttributeError(f"mapped task '{self.task_id}' has no attribute '{name}'")

    def iter_xcom_dependencies(self) -> Iterator[XComArg]:
        """XComArgs in the expansion and in the fixed arguments."""
        yield from find_xcom_args(self.partial_kwargs)
        yield from find_xcom_args(self.expand_input or {})
        yield from find_xcom_args(self.expand_kwargs_input)

    def expansion(self, resolve: Resolver) -> list[dict[str, Any]]:
        """The arguments of each task instance, in map_index order."""
        if self.expand_kwargs_input is not None:
            source = self.expand_kwargs_input
            items: Sequence[Any] = (
                _as_sequence(self.task_id, "expand_kwargs", resolve(source))
                if isinstance(source, XComArg)
                else source
            )
            return [dict(_resolve_all(item, resolve)) for item in items]
        assert self.expand_input is not None
        names = list(self.expand_input)
        columns = []
        for name in names:
            value = self.expand_input[name]
            if isinstance(value, XComArg):
                value = resolve(value)
            if isinstance(value, dict):
                value = list(value.items())
            columns.append(_as_sequence(self.task_id, name, value))
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*columns)]

    def unmap(self, expanded: Mapping[str, Any]) -> BaseOperator:
        """A plain operator for one map index, with this task's id and place in the DAG."""
        kwargs = dict(self.partial_kwargs)
        if self.mapped_into:
            kwargs[self.mapped_into] = {**kwargs.get(self.mapped_into, {}), **expanded}
        else:
            kwargs.update(expanded)
        with definition_context.detached():
            op = self.operator_class(task_id=self.task_id, **kwargs)
        op.dag = self.dag
        op.task_group = self.task_group
        op.upstream_task_ids = set(self.upstream_task_ids)
        op.downstream_task_ids = set(self.downstream_task_ids)
        return op


def _as_sequence(task_id: str, name: str, value: Any) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise DagDefinitionError(
            f"task '{task_id}': cannot map over '{name}': expected a list, "
            f"got {type(value).__name__} {value!r:.80}"
        )
    return value


def _resolve_all(item: Mapping[str, Any], resolve: Resolver) -> Iterator[tuple[str, Any]]:
    for key, value in item.items():
        yield key, resolve(value) if isinstance(value, XComArg) else value


def _signature_defaults(cls: type) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for name, param in inspect.signature(init).parameters.items():
            if param.default is not inspect.Parameter.empty:
                defaults[name] = param.default
    if defaults.get("pool") is None:  # BaseOperator turns pool=None into the default pool
        defaults["pool"] = "default_pool"
    return defaults
