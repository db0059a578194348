"""PythonSensor: wait until a Python callable returns something truthy."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sluice.core.errors import DagDefinitionError
from sluice.sdk.operator import Context
from sluice.sdk.operators.python import context_kwargs
from sluice.sdk.sensors.base import BaseSensorOperator, PokeReturnValue

log = logging.getLogger("sluice.task")


class PythonSensor(BaseSensorOperator):
    """Pokes by calling ``python_callable(*op_args, **op_kwargs)`` (plus the context values
    it asks for); a truthy result, or a PokeReturnValue that is done, ends the wait."""

    template_fields: Sequence[str] = ("templates_dict", "op_args", "op_kwargs")
    template_fields_renderers = {"templates_dict": "json", "op_args": "py", "op_kwargs": "py"}

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(python_callable):
            raise DagDefinitionError(
                f"task '{self.task_id}': python_callable must be callable, got {python_callable!r}"
            )
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict

    def poke(self, context: Context) -> PokeReturnValue:
        """Call the function once."""
        context["templates_dict"] = self.templates_dict
        kwargs = context_kwargs(self.python_callable, context, self.op_args, self.op_kwargs)
        log.info("Poking callable: %s", getattr(self.python_callable, "__name__", "callable"))
        result = self.python_callable(*self.op_args, **kwargs)
        if isinstance(result, PokeReturnValue):
            return result
        return PokeReturnValue(bool(result))
