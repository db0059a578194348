"""Airflow 2's ``airflow.operators.python`` path: ``from sluice.operators.python import ...``."""

from __future__ import annotations

from sluice.sdk.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
)

__all__ = ["BranchPythonOperator", "PythonOperator", "ShortCircuitOperator"]
