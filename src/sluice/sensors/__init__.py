"""The built-in sensors: ``from sluice.sensors import BaseSensorOperator, PythonSensor``.

As in Airflow 2, each also imports from its own module: ``sluice.sensors.base``
(``BaseSensorOperator``, ``PokeReturnValue``) and ``sluice.sensors.python``
(``PythonSensor``). The time sensors (``TimeDeltaSensor``, ``DateTimeSensor``,
``TimeSensor``) live in ``sluice.sdk.sensors.time``.
"""

from __future__ import annotations

from sluice.sdk.sensors.base import BaseSensorOperator, PokeReturnValue
from sluice.sdk.sensors.python import PythonSensor
from sluice.sdk.sensors.time import DateTimeSensor, TimeDeltaSensor, TimeSensor

__all__ = [
    "BaseSensorOperator",
    "DateTimeSensor",
    "PokeReturnValue",
    "PythonSensor",
    "TimeDeltaSensor",
    "TimeSensor",
]
