"""The built-in operators: ``from sluice.operators import BashOperator, PythonOperator``.

As in Airflow 2, each also imports from its own module: ``sluice.operators.bash``,
``sluice.operators.python``, ``sluice.operators.empty``.
"""

from __future__ import annotations

from sluice.sdk.operator import BaseOperator
from sluice.sdk.operators.bash import BashOperator
from sluice.sdk.operators.empty import EmptyOperator
from sluice.sdk.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
)

__all__ = [
    "BaseOperator",
    "BashOperator",
    "BranchPythonOperator",
    "EmptyOperator",
    "PythonOperator",
    "ShortCircuitOperator",
]
