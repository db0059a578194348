"""The scheduler's retry delay is the operator's: Airflow's formula from serialized data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sluice.operators import EmptyOperator
from sluice.parsing.serialize import dag_to_json, deserialize_dag
from sluice.scheduler.retries import retry_at, retry_delay
from sluice.sdk.dag import DAG

START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "settings",
    [
        {"retry_delay": timedelta(seconds=30)},
        {"retry_delay": timedelta(seconds=10), "retry_exponential_backoff": True},
        {
            "retry_delay": timedelta(seconds=10),
            "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(seconds=50),
        },
        {"retry_delay": timedelta(hours=5), "retry_exponential_backoff": True},
    ],
)
def test_the_delay_matches_the_operators_for_every_try(settings: dict[str, object]) -> None:
    with DAG("d", schedule=None, start_date=START) as dag:
        operator = EmptyOperator(task_id="t", retries=9, **settings)
    task = deserialize_dag(dag_to_json(dag)).get_task("t")
    identity = f"d#t#{START.isoformat()}"
    for try_number in range(1, 10):
        assert retry_delay(task, try_number, identity) == operator.retry_delay_after(
            try_number, identity
        )


def test_no_retry_is_left_after_max_tries() -> None:
    with DAG("d", schedule=None, start_date=START) as dag:
        EmptyOperator(task_id="t", retries=1, retry_delay=timedelta(seconds=5))
    task = deserialize_dag(dag_to_json(dag)).get_task("t")
    now = datetime(2024, 5, 1, tzinfo=UTC)
    when = retry_at(task, dag_id="d", logical_date=START, try_number=1, max_tries=1, now=now)
    assert when == now + timedelta(seconds=5)
    assert (
        retry_at(task, dag_id="d", logical_date=START, try_number=2, max_tries=1, now=now) is None
    )
