"""Airflow 2's ``airflow.sensors.python`` path: ``from sluice.sensors.python import ...``."""

from __future__ import annotations

from sluice.sdk.sensors.python import PythonSensor

__all__ = ["PythonSensor"]
