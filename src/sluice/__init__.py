"""Sluice: a workflow orchestrator for data pipelines.

The authoring API lives here, as Airflow users expect::

    from sluice import DAG, dag, task, TaskGroup, Param, chain

Importing sluice reads no configuration, opens no database and starts nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sluice.sdk.dag import DAG, dag
from sluice.sdk.dependencies import chain, cross_downstream
from sluice.sdk.operator import BaseOperator
from sluice.sdk.params import Param
from sluice.sdk.taskflow import task
from sluice.sdk.taskgroup import TaskGroup, task_group
from sluice.sdk.trigger_rules import TriggerRule
from sluice.sdk.xcom_arg import XComArg

if TYPE_CHECKING:
    from sluice.integrations.variable import Variable

__version__ = "0.1.0"

# Imported on first use: Variable brings the store (SQLAlchemy) with it.
_LAZY = {"Variable": "sluice.integrations.variable"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sluice' has no attribute {name!r}")


__all__ = [
    "DAG",
    "BaseOperator",
    "Param",
    "TaskGroup",
    "TriggerRule",
    "Variable",
    "XComArg",
    "__version__",
    "chain",
    "cross_downstream",
    "dag",
    "task",
    "task_group",
]
