"""PythonSensor: wait until a Python callable returns something truthy."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sluice.sdk.operator import Context
from sluice.sdk.operators.python import CallsPython
from sluice.sdk.sensors.base import BaseSensorOperator, PokeReturnValue

log = logging.getLogger("sluice.task")


class PythonSensor(CallsPython, BaseSensorOperator):
    """Pokes by calling ``python_callable(*op_args, **op_kwargs)`` (plus the context values
    it asks for); a truthy result, or a PokeReturnValue that is done, ends the wait."""

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
        self._set_callable(python_callable, op_args, op_kwargs, templates_dict)

    def poke(self, context: Context) -> PokeReturnValue:
        """Call the function once."""
        log.info("Poking callable: %s", getattr(self.python_callable, "__name__", "callable"))
        result = self._call_python(context)
        if isinstance(result, PokeReturnValue):
            return result
        return PokeReturnValue(bool(result))
