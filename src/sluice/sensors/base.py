"""Airflow 2's ``airflow.sensors.base`` path: ``from sluice.sensors.base import ...``."""

from __future__ import annotations

from sluice.sdk.sensors.base import BaseSensorOperator, PokeReturnValue

__all__ = ["BaseSensorOperator", "PokeReturnValue"]
