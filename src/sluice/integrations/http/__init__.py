"""HTTP: the hook, the operator and the sensor of Airflow's HTTP provider."""

from sluice.integrations.http.hook import (
    HttpHook,
    HttpHookError,
    HttpRequestError,
    HttpStatusError,
    RetryPolicy,
)
from sluice.integrations.http.operators import HttpOperator, ResponseCheckFailed, SimpleHttpOperator
from sluice.integrations.http.sensors import HttpSensor

__all__ = [
    "HttpHook",
    "HttpHookError",
    "HttpOperator",
    "HttpRequestError",
    "HttpSensor",
    "HttpStatusError",
    "ResponseCheckFailed",
    "RetryPolicy",
    "SimpleHttpOperator",
]
