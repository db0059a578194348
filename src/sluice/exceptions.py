"""Exceptions a task raises on purpose: ``from sluice.exceptions import SkipTask, FailTask``."""

from __future__ import annotations

from sluice.core.errors import (
    DagDefinitionError,
    FailTask,
    ParamValidationError,
    SkipTask,
    SluiceError,
    TemplateError,
    XComError,
)

__all__ = [
    "DagDefinitionError",
    "FailTask",
    "ParamValidationError",
    "SkipTask",
    "SluiceError",
    "TemplateError",
    "XComError",
]
