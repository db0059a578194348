"""Sensors: poke until done, reschedule, timeout, soft_fail and backoff, as in Airflow."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sluice import DAG
from sluice.core.errors import DagDefinitionError, RescheduleTask, SensorTimeout, SkipTask
from sluice.core.states import DagRunState, TaskInstanceState
from sluice.operators import PythonOperator
from sluice.sensors import BaseSensorOperator, PokeReturnValue, PythonSensor
from sluice.sensors.base import BaseSensorOperator as FromBase
from sluice.sensors.python import PythonSensor as FromPython

S = TaskInstanceState


def _counter(done_at: int, value: Any = None) -> Any:
    """A callable that returns False until its ``done_at``-th call."""
    calls: list[int] = []

    def poke() -> Any:
        calls.append(1)
        if len(calls) < done_at:
            return False
        return PokeReturnValue(True, value) if value is not None else True

    poke.calls = calls  # type: ignore[attr-defined]
    return poke


def test_airflow_import_paths() -> None:
    assert FromBase is BaseSensorOperator and FromPython is PythonSensor


def test_poke_mode_pokes_until_done_and_pushes_the_poke_value(run_dag, make_run) -> None:  # type: ignore[no-untyped-def]
    poke = _counter(3, value={"found": 3})
    with DAG("d") as dag:
        wait = PythonSensor(task_id="wait", python_callable=poke, poke_interval=0.01)
        after = PythonOperator(task_id="after", python_callable=lambda: "ran")
        wait >> after
    run = make_run(dag)
    result = run.execute()
    assert result.state is DagRunState.SUCCESS
    assert len(poke.calls) == 3
    (record, _) = result.instances
    assert record.try_number == 1
    assert run.xcom.get("wait", -1, "return_value") == '{"found":3}'


def test_python_sensor_gets_its_arguments_and_the_context(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []

    def check(a: int, b: int = 0, ds: str = "", templates_dict: Any = None) -> bool:
        seen.append((a, b, ds, templates_dict))
        return True

    with DAG("d") as dag:
        PythonSensor(
            task_id="wait",
            python_callable=check,
            op_args=[1],
            op_kwargs={"b": "{{ ds_nodash }}"},
            templates_dict={"day": "{{ ds }}"},
        )
    run_dag(dag)
    assert seen == [(1, "20240315", "2024-03-15", {"day": "2024-03-15"})]


def test_reschedule_mode_frees_the_slot_and_comes_back_in_the_same_try(run_dag) -> None:  # type: ignore[no-untyped-def]
    poke = _counter(3)
    with DAG("d") as dag:
        PythonSensor(task_id="wait", python_callable=poke, poke_interval=0.05, mode="reschedule")
    started = time.monotonic()
    result = run_dag(dag)
    assert result.state is DagRunState.SUCCESS
    assert len(poke.calls) == 3
    # Two reschedules, each waited for even when retries are not.
    assert time.monotonic() - started >= 0.1
    (record,) = result.instances
    assert (record.state, record.try_number) == (S.SUCCESS, 1)


def test_reschedule_raises_the_signal_with_the_next_poke_time() -> None:
    with DAG("d"):
        sensor = PythonSensor(
            task_id="wait", python_callable=lambda: False, poke_interval=30, mode="reschedule"
        )
    before = datetime.now(UTC)
    with pytest.raises(RescheduleTask) as raised:
        sensor.execute({"ti": None})
    delay = raised.value.reschedule_at - before
    assert timedelta(seconds=30) <= delay < timedelta(seconds=31)


def test_timeout_fails_without_retries(run_dag) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        PythonSensor(
            task_id="wait",
            python_callable=lambda: False,
            poke_interval=0.01,
            timeout=0.05,
            retries=3,
        )
    result = run_dag(dag)
    (record,) = result.instances
    assert (record.state, record.try_number) == (S.FAILED, 1)
    assert record.error is not None
    assert record.error.startswith("SensorTimeout: sensor 'wait' timed out")


def test_soft_fail_skips_on_timeout(run_dag) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        PythonSensor(
            task_id="wait",
            python_callable=lambda: False,
            poke_interval=0.01,
            timeout=0.05,
            soft_fail=True,
        )
    (record,) = run_dag(dag).instances
    assert record.state is S.SKIPPED


def test_reschedule_timeout_counts_from_the_first_try() -> None:
    with DAG("d"):
        sensor = PythonSensor(
            task_id="wait", python_callable=lambda: False, timeout=60, mode="reschedule"
        )

    class Ti:
        first_try_start = datetime.now(UTC) - timedelta(minutes=5)

    with pytest.raises(SensorTimeout, match="over its timeout of 60 s"):
        sensor.execute({"ti": Ti()})
    sensor.soft_fail = True
    with pytest.raises(SkipTask):
        sensor.execute({"ti": Ti()})


def test_soft_fail_skips_when_the_poke_fails_on_purpose(run_dag) -> None:  # type: ignore[no-untyped-def]
    from sluice.exceptions import FailTask

    def poke() -> bool:
        raise FailTask("gone for good")

    with DAG("d") as dag:
        PythonSensor(task_id="wait", python_callable=poke, soft_fail=True)
        PythonSensor(task_id="strict", python_callable=poke)
    states = {r.task_id: r.state for r in run_dag(dag).instances}
    assert states == {"wait": S.SKIPPED, "strict": S.FAILED}


def test_a_poke_that_raises_fails_the_try_into_its_retries(run_dag) -> None:  # type: ignore[no-untyped-def]
    def poke() -> bool:
        raise ConnectionError("no route")

    with DAG("d") as dag:
        PythonSensor(task_id="wait", python_callable=poke, retries=1, retry_delay=0)
    (record,) = run_dag(dag).instances
    assert (record.state, record.try_number, record.error) == (
        S.FAILED,
        2,
        "ConnectionError: no route",
    )


def test_exponential_backoff_grows_with_jitter_and_stops_at_max_wait() -> None:
    with DAG("d"):
        sensor = PythonSensor(
            task_id="wait",
            python_callable=lambda: False,
            poke_interval=10,
            exponential_backoff=True,
            max_wait=timedelta(seconds=100),
        )

    def elapsed() -> float:
        return 0.0

    intervals = [sensor._get_next_poke_interval(1.0, elapsed, n) for n in range(1, 7)]
    # Airflow's: at least poke_interval * 2**(n-2) (and 1 s), under twice that; capped.
    for n, interval in enumerate(intervals, start=1):
        low = max(int(10 * 2 ** (n - 2)), 1)
        assert min(low, 100) <= interval < max(2 * low, 1) or interval == 100
    assert intervals[-1] == 100
    # Deterministic: the jitter comes from the task's identity.
    assert intervals == [sensor._get_next_poke_interval(1.0, elapsed, n) for n in range(1, 7)]


def test_exponential_backoff_in_reschedule_mode_counts_pokes_from_the_time_waited() -> None:
    with DAG("d"):
        sensor = PythonSensor(
            task_id="wait",
            python_callable=lambda: False,
            poke_interval=10,
            exponential_backoff=True,
            mode="reschedule",
        )
    start = datetime(2024, 1, 1, tzinfo=UTC)
    early = sensor._get_next_poke_interval(start, lambda: 0.0, 1)
    late = sensor._get_next_poke_interval(start, lambda: 600.0, 1)
    assert early < 10 <= late


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "wait"}, "mode must be one of poke, reschedule, got 'wait'"),
        ({"poke_interval": -1}, "poke_interval must be a non-negative number"),
        ({"timeout": "1h"}, "timeout must be a non-negative number of seconds or a timedelta"),
        ({"max_wait": True}, "max_wait must be a non-negative number"),
    ],
)
def test_bad_arguments_name_the_task(kwargs: dict[str, Any], message: str) -> None:
    with DAG("d"), pytest.raises(DagDefinitionError, match=message) as raised:
        PythonSensor(task_id="wait", python_callable=lambda: True, **kwargs)
    assert "task 'wait' of DAG 'd'" in str(raised.value)


def test_durations_are_seconds_whatever_they_were_given_as() -> None:
    with DAG("d"):
        sensor = PythonSensor(
            task_id="wait",
            python_callable=lambda: True,
            poke_interval=timedelta(minutes=1),
            timeout=timedelta(hours=1),
            max_wait=30,
        )
    assert (sensor.poke_interval, sensor.timeout) == (60.0, 3600.0)
    assert sensor.max_wait == timedelta(seconds=30)
    assert not sensor.reschedule


def test_base_sensor_needs_poke() -> None:
    class Lazy(BaseSensorOperator):
        pass

    with DAG("d"):
        sensor = Lazy(task_id="lazy")
    with pytest.raises(NotImplementedError, match="Lazy must implement poke"):
        sensor.execute({})


def test_a_mapped_sensor_expands(run_dag) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        PythonSensor.partial(
            task_id="wait", python_callable=lambda n: n > 0, poke_interval=0.01
        ).expand(op_args=[[1], [2]])
    result = run_dag(dag)
    assert [r.state for r in result.instances] == [S.SUCCESS, S.SUCCESS]
