"""Airflow 2's ``airflow.operators.bash`` path: ``from sluice.operators.bash import ...``."""

from __future__ import annotations

from sluice.sdk.operators.bash import BashOperator

__all__ = ["BashOperator"]
