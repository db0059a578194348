"""TimeDeltaSensor, DateTimeSensor and TimeSensor: the moment each waits for."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tests.runner.conftest import Stored

from sluice import DAG
from sluice.core.errors import DagDefinitionError
from sluice.core.states import TaskInstanceState
from sluice.sdk.sensors import time as time_sensors
from sluice.sdk.sensors.base import BaseSensorOperator
from sluice.sensors import DateTimeSensor, TimeDeltaSensor, TimeSensor

S = TaskInstanceState
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")
"""UTC+14 all year: a naive time read there is 14 hours earlier than read in UTC."""


def _make(cls: type[BaseSensorOperator], zone: Any = UTC, **kwargs: Any) -> Any:
    with DAG("probe", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=zone)):
        return cls(task_id="wait", **kwargs)


NOW = datetime(2024, 3, 15, 6, 0, tzinfo=UTC)
"""The clock the sensors read in these tests: 06:00 in UTC, 20:00 in Kiritimati."""


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    if "stored" not in request.fixturenames:  # the runner's test reads the real clock
        monkeypatch.setattr(time_sensors, "_now", lambda: NOW)


def test_time_delta_counts_from_the_end_of_the_data_interval() -> None:
    sensor = _make(TimeDeltaSensor, delta=timedelta(hours=2))
    assert sensor.poke({"data_interval_end": NOW - timedelta(hours=3)})
    assert not sensor.poke({"data_interval_end": NOW - timedelta(hours=1)})
    assert not sensor.poke({"data_interval_end": NOW - timedelta(hours=2)})  # strictly past
    # A negative delta waits less than the interval's end.
    early = _make(TimeDeltaSensor, delta=timedelta(hours=-2))
    assert early.poke({"data_interval_end": NOW + timedelta(hours=1)})


def test_date_time_takes_aware_datetimes_and_iso_text() -> None:
    assert _make(DateTimeSensor, target_time=NOW - timedelta(minutes=5)).poke({})
    assert not _make(DateTimeSensor, target_time=NOW + timedelta(minutes=5)).poke({})
    assert _make(DateTimeSensor, target_time="2024-03-15T05:59:00Z").poke({})
    assert not _make(DateTimeSensor, target_time="2024-03-15T07:00:00+01:00").poke({})


def test_a_naive_target_is_read_in_the_dags_timezone() -> None:
    naive = datetime(2024, 3, 15, 13, 0)
    # 13:00 is ahead of a UTC clock (06:00) and behind a UTC+14 one (20:00).
    assert not _make(DateTimeSensor, target_time=naive).poke({})
    assert _make(DateTimeSensor, KIRITIMATI, target_time=naive).poke({})
    assert _make(DateTimeSensor, KIRITIMATI, target_time=naive.isoformat()).poke({})


def test_time_sensor_compares_the_time_of_day_in_the_dags_timezone() -> None:
    assert _make(TimeSensor, target_time=time(5, 59)).poke({})
    assert not _make(TimeSensor, target_time=time(6, 0)).poke({})
    assert not _make(TimeSensor, target_time=time(12, 0)).poke({})
    assert _make(TimeSensor, KIRITIMATI, target_time=time(12, 0)).poke({})


def test_a_rendered_target_time_through_the_task_runner(stored: Stored) -> None:
    stored.write(
        "timed.py",
        """
        from sluice.sensors import DateTimeSensor

        with DAG("timed", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            DateTimeSensor(task_id="past", target_time="{{ data_interval_end }}")
            DateTimeSensor(
                task_id="future", target_time="{{ data_interval_end.add(years=900) }}",
                mode="reschedule", poke_interval=3600,
            )
        """,
    )
    run_id = stored.trigger("timed")
    stored.run("timed", run_id, "past")
    stored.run("timed", run_id, "future")
    assert stored.ti("timed", run_id, "past").state == S.SUCCESS
    assert stored.ti("timed", run_id, "future").state == S.UP_FOR_RESCHEDULE


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (TimeDeltaSensor, {"delta": 60}, "delta must be a timedelta, got 60"),
        (DateTimeSensor, {"target_time": 1700000000}, "target_time must be a datetime or ISO"),
        (DateTimeSensor, {"target_time": "tomorrow noon"}, "'tomorrow noon' is not an ISO 8601"),
        (TimeSensor, {"target_time": "06:00"}, r"target_time must be a datetime.time"),
        (TimeSensor, {"target_time": time(6, tzinfo=UTC)}, "must be a naive time"),
    ],
)
def test_bad_arguments(cls: type[BaseSensorOperator], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DagDefinitionError, match=message):
        _make(cls, **kwargs)


def test_a_template_is_checked_once_rendered() -> None:
    sensor = _make(DateTimeSensor, target_time="{{ ds }} sometime")
    sensor.target_time = "2024-03-15 sometime"  # what rendering gives
    with pytest.raises(ValueError, match=r"task 'wait' of DAG 'probe': target_time"):
        sensor.poke({})
