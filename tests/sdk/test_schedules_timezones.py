"""Timetables in local timezones: DST days, fixed offsets and pendulum timezones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pendulum
import pytest

from sluice.sdk.schedules import (
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DagRunInfo,
    DataInterval,
    DeltaDataIntervalTimetable,
    TimeRestriction,
    Timetable,
    iter_dagrun_infos,
    timetable_from_dict,
    timetable_from_schedule,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def intervals(timetable: Timetable, start: datetime, limit: int) -> list[tuple[datetime, ...]]:
    infos = iter_dagrun_infos(timetable, start_date=start, limit=limit)
    return [tuple(info.data_interval) for info in infos]


# --- Europe/Paris: clocks go 02:00 CET -> 03:00 CEST on 2024-03-31, back on 2024-10-27 ---


def test_paris_daily_0230_spring_forward() -> None:
    timetable = CronDataIntervalTimetable("30 2 * * *", "Europe/Paris")
    assert intervals(timetable, utc(2024, 3, 29), 4) == [
        (utc(2024, 3, 29, 1, 30), utc(2024, 3, 30, 1, 30)),  # 02:30 CET
        # 02:30 does not exist on the 31st; it is read as 03:30 CEST, as Airflow does.
        (utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1, 30)),
        (utc(2024, 3, 31, 1, 30), utc(2024, 4, 1, 0, 30)),  # a 23-hour interval
        (utc(2024, 4, 1, 0, 30), utc(2024, 4, 2, 0, 30)),  # 02:30 CEST
    ]


def test_paris_daily_0230_fall_back() -> None:
    timetable = CronDataIntervalTimetable("30 2 * * *", "Europe/Paris")
    assert intervals(timetable, utc(2024, 10, 25), 3) == [
        (utc(2024, 10, 25, 0, 30), utc(2024, 10, 26, 0, 30)),  # 02:30 CEST
        # 02:30 happens twice on the 27th; the second one (CET) is the tick.
        (utc(2024, 10, 26, 0, 30), utc(2024, 10, 27, 1, 30)),  # a 25-hour interval
        (utc(2024, 10, 27, 1, 30), utc(2024, 10, 28, 1, 30)),
    ]


def test_paris_hourly_spring_forward_keeps_one_hour_steps() -> None:
    timetable = timetable_from_schedule("@hourly", timezone="Europe/Paris")
    # Local: 00:00 CET, 01:00 CET, 03:00 CEST, 04:00 CEST, 05:00 CEST.
    assert intervals(timetable, utc(2024, 3, 30, 23), 4) == [
        (utc(2024, 3, 30, 23), utc(2024, 3, 31, 0)),
        (utc(2024, 3, 31, 0), utc(2024, 3, 31, 1)),
        (utc(2024, 3, 31, 1), utc(2024, 3, 31, 2)),
        (utc(2024, 3, 31, 2), utc(2024, 3, 31, 3)),
    ]


def test_paris_hourly_fall_back_runs_the_repeated_hour_twice() -> None:
    timetable = timetable_from_schedule("@hourly", timezone="Europe/Paris")
    # Local: 01:00 CEST, 02:00 CEST, 02:00 CET, 03:00 CET, 04:00 CET.
    assert intervals(timetable, utc(2024, 10, 26, 23), 4) == [
        (utc(2024, 10, 26, 23), utc(2024, 10, 27, 0)),
        (utc(2024, 10, 27, 0), utc(2024, 10, 27, 1)),
        (utc(2024, 10, 27, 1), utc(2024, 10, 27, 2)),
        (utc(2024, 10, 27, 2), utc(2024, 10, 27, 3)),
    ]


def test_paris_every_two_hours_follows_the_wall_clock() -> None:
    # Not an every-hour cron, so Airflow reads it on the wall clock: 00:00 CET, then
    # 02:00 (skipped, read as 03:00 CEST), then 04:00 CEST.
    timetable = timetable_from_schedule("0 */2 * * *", timezone="Europe/Paris")
    assert intervals(timetable, utc(2024, 3, 30, 23), 3) == [
        (utc(2024, 3, 30, 23), utc(2024, 3, 31, 1)),
        (utc(2024, 3, 31, 1), utc(2024, 3, 31, 2)),
        (utc(2024, 3, 31, 2), utc(2024, 3, 31, 4)),
    ]


def test_paris_hourly_on_mondays_keeps_midnight_across_dst() -> None:
    # Monday 2024-03-25 23:00 CET, then Monday 2024-04-01 00:00 CEST (= 22:00 UTC).
    timetable = timetable_from_schedule("0 * * * 1", timezone="Europe/Paris")
    assert intervals(timetable, utc(2024, 3, 25, 22), 1) == [
        (utc(2024, 3, 25, 22), utc(2024, 3, 31, 22)),
    ]


def test_paris_catchup_false_on_the_short_day_takes_the_last_complete_interval() -> None:
    timetable = CronDataIntervalTimetable("30 2 * * *", "Europe/Paris")
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(utc(2024, 1, 1), None, False),
        now=utc(2024, 3, 31, 12),
    )
    assert info == DagRunInfo.interval(utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1, 30))


def test_paris_manual_run_on_the_short_day() -> None:
    timetable = CronDataIntervalTimetable("30 2 * * *", "Europe/Paris")
    assert timetable.infer_manual_data_interval(run_after=utc(2024, 3, 31, 12)) == DataInterval(
        utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1, 30)
    )


def test_paris_trigger_timetable_across_dst() -> None:
    timetable = CronTriggerTimetable("30 2 * * *", timezone="Europe/Paris")
    infos = iter_dagrun_infos(timetable, start_date=utc(2024, 3, 30), limit=3)
    assert [info.run_after for info in infos] == [
        utc(2024, 3, 30, 1, 30),
        utc(2024, 3, 31, 1, 30),
        utc(2024, 4, 1, 0, 30),
    ]


# --- America/New_York: 02:00 EST -> 03:00 EDT on 2024-03-10, back on 2024-11-03 ----------


def test_new_york_daily_0230_spring_forward() -> None:
    timetable = CronDataIntervalTimetable("30 2 * * *", "America/New_York")
    assert intervals(timetable, utc(2024, 3, 9), 2) == [
        (utc(2024, 3, 9, 7, 30), utc(2024, 3, 10, 7, 30)),  # 02:30 EST; then 03:30 EDT
        (utc(2024, 3, 10, 7, 30), utc(2024, 3, 11, 6, 30)),  # 02:30 EDT
    ]


def test_new_york_daily_0130_fall_back_takes_the_second_0130() -> None:
    timetable = CronDataIntervalTimetable("30 1 * * *", "America/New_York")
    assert intervals(timetable, utc(2024, 11, 2), 2) == [
        (utc(2024, 11, 2, 5, 30), utc(2024, 11, 3, 6, 30)),  # 01:30 EDT -> 01:30 EST
        (utc(2024, 11, 3, 6, 30), utc(2024, 11, 4, 6, 30)),
    ]


def test_new_york_half_past_every_hour_fall_back() -> None:
    timetable = timetable_from_schedule("30 * * * *", timezone="America/New_York")
    # Local: 00:30 EDT, 01:30 EDT, 01:30 EST, 02:30 EST.
    assert intervals(timetable, utc(2024, 11, 3, 4), 3) == [
        (utc(2024, 11, 3, 4, 30), utc(2024, 11, 3, 5, 30)),
        (utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 6, 30)),
        (utc(2024, 11, 3, 6, 30), utc(2024, 11, 3, 7, 30)),
    ]


def test_new_york_midnight_daily_intervals_are_23_and_25_hours() -> None:
    timetable = timetable_from_schedule("@daily", timezone="America/New_York")
    spring = intervals(timetable, utc(2024, 3, 10, 5), 1)[0]
    assert spring == (utc(2024, 3, 10, 5), utc(2024, 3, 11, 4))
    fall = intervals(timetable, utc(2024, 11, 3, 4), 1)[0]
    assert fall == (utc(2024, 11, 3, 4), utc(2024, 11, 4, 5))


# --- delta schedules count elapsed time --------------------------------------------------


def test_delta_is_elapsed_time_across_dst() -> None:
    timetable = DeltaDataIntervalTimetable(timedelta(days=1))
    start = pendulum.datetime(2024, 3, 30, tz="Europe/Paris")  # 2024-03-29 23:00 UTC
    assert intervals(timetable, start, 2) == [
        (utc(2024, 3, 29, 23), utc(2024, 3, 30, 23)),
        (utc(2024, 3, 30, 23), utc(2024, 3, 31, 23)),  # 01:00 CEST, not midnight
    ]


# --- pendulum, fixed offsets, other tzinfos ---------------------------------------------


def test_pendulum_timezone_and_datetimes() -> None:
    start = pendulum.datetime(2024, 3, 29, tz="Europe/Paris")
    timetable = timetable_from_schedule("30 2 * * *", timezone=start.tzinfo)  # type: ignore[arg-type]
    assert timetable == CronDataIntervalTimetable("30 2 * * *", "Europe/Paris")
    assert timetable.serialize()["timezone"] == "Europe/Paris"
    infos = iter_dagrun_infos(timetable, start_date=start, limit=3)
    assert [tuple(info.data_interval) for info in infos] == [
        (utc(2024, 3, 29, 1, 30), utc(2024, 3, 30, 1, 30)),
        (utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1, 30)),
        (utc(2024, 3, 31, 1, 30), utc(2024, 4, 1, 0, 30)),
    ]
    for info in infos:
        for moment in (info.run_after, *info.data_interval):
            assert type(moment) is datetime
            assert moment.tzinfo is UTC


def test_pendulum_datetimes_in_restriction_last_interval_and_now() -> None:
    timetable = CronDataIntervalTimetable("@daily", pendulum.timezone("Europe/Paris"))
    paris = "Europe/Paris"
    info = timetable.next_dagrun_info(
        last_automated_data_interval=DataInterval(
            pendulum.datetime(2024, 1, 1, tz=paris), pendulum.datetime(2024, 1, 2, tz=paris)
        ),
        restriction=TimeRestriction(pendulum.datetime(2024, 1, 1, tz=paris), None, False),
        now=pendulum.datetime(2024, 1, 3, 12, tz=paris),
    )
    assert info == DagRunInfo.interval(utc(2024, 1, 1, 23), utc(2024, 1, 2, 23))
    assert type(info.run_after) is datetime


def test_pendulum_manual_run() -> None:
    timetable = CronDataIntervalTimetable("@daily", "Europe/Paris")
    run_after = pendulum.datetime(2024, 1, 25, 1, tz="Europe/Paris")
    assert timetable.infer_manual_data_interval(run_after=run_after) == DataInterval(
        utc(2024, 1, 23, 23), utc(2024, 1, 24, 23)
    )


@pytest.mark.parametrize(
    ("tz", "name"),
    [
        (pendulum.UTC, "UTC"),
        (pendulum.FixedTimezone(3600), "+01:00"),
        (pendulum.FixedTimezone(-(5 * 3600 + 30 * 60)), "-05:30"),
        (UTC, "UTC"),
        (timezone(timedelta(hours=5, minutes=30)), "+05:30"),
        (ZoneInfo("Asia/Tokyo"), "Asia/Tokyo"),
        (pendulum.timezone("America/New_York"), "America/New_York"),
        ("Etc/UTC", "UTC"),
        ("+02:00", "+02:00"),
    ],
)
def test_timezone_forms_round_trip(tz: object, name: str) -> None:
    timetable = CronTriggerTimetable("@daily", timezone=tz)  # type: ignore[arg-type]
    assert timetable.serialize()["timezone"] == name
    assert timetable_from_dict(timetable.serialize()) == timetable


def test_fixed_offset_timezone_schedule() -> None:
    timetable = CronDataIntervalTimetable("@daily", timezone(timedelta(hours=5, minutes=30)))
    # Local midnight at +05:30 is 18:30 UTC the day before.
    assert intervals(timetable, utc(2024, 1, 1), 1) == [
        (utc(2024, 1, 1, 18, 30), utc(2024, 1, 2, 18, 30)),
    ]
