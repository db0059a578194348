"""Airflow 2's ``airflow.operators.empty`` path: ``from sluice.operators.empty import ...``."""

from __future__ import annotations

from sluice.sdk.operators.empty import EmptyOperator

__all__ = ["EmptyOperator"]
