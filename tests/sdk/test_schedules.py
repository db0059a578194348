"""Timetables: intervals, catchup, end_date, manual runs, errors and serialization."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from sluice.core.errors import ScheduleError
from sluice.sdk.schedules import (
    ContinuousTimetable,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DagRunInfo,
    DataInterval,
    DeltaDataIntervalTimetable,
    NullTimetable,
    OnceTimetable,
    TimeRestriction,
    Timetable,
    iter_dagrun_infos,
    timetable_from_dict,
    timetable_from_schedule,
)
from sluice.sdk.timetables.cron import CronSchedule
from sluice.sdk.timetables.zones import parse_timezone


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def intervals(timetable: Timetable, start: datetime, limit: int, **kwargs: object) -> list:
    infos = iter_dagrun_infos(timetable, start_date=start, limit=limit, **kwargs)  # type: ignore[arg-type]
    return [tuple(info.data_interval) for info in infos]


def daily(cron: str = "@daily", tz: str = "UTC") -> Timetable:
    return timetable_from_schedule(cron, timezone=tz)


# --- presets and plain crons, catchup=True ------------------------------------------


def test_daily_intervals_run_after_their_end() -> None:
    infos = iter_dagrun_infos(daily(), start_date=utc(2024, 1, 1), limit=3)
    assert [tuple(i.data_interval) for i in infos] == [
        (utc(2024, 1, 1), utc(2024, 1, 2)),
        (utc(2024, 1, 2), utc(2024, 1, 3)),
        (utc(2024, 1, 3), utc(2024, 1, 4)),
    ]
    assert infos[0].run_after == utc(2024, 1, 2)
    assert infos[0].logical_date == utc(2024, 1, 1)


def test_start_date_off_the_schedule_aligns_to_the_next_tick() -> None:
    assert intervals(daily("0 2 * * *"), utc(2024, 1, 1, 3), 2) == [
        (utc(2024, 1, 2, 2), utc(2024, 1, 3, 2)),
        (utc(2024, 1, 3, 2), utc(2024, 1, 4, 2)),
    ]


def test_hourly() -> None:
    assert intervals(daily("@hourly"), utc(2024, 1, 1, 0, 30), 3) == [
        (utc(2024, 1, 1, 1), utc(2024, 1, 1, 2)),
        (utc(2024, 1, 1, 2), utc(2024, 1, 1, 3)),
        (utc(2024, 1, 1, 3), utc(2024, 1, 1, 4)),
    ]


def test_weekly_runs_sunday_to_sunday() -> None:
    # 2024-01-01 is a Monday; the first Sunday is the 7th.
    assert intervals(daily("@weekly"), utc(2024, 1, 1), 2) == [
        (utc(2024, 1, 7), utc(2024, 1, 14)),
        (utc(2024, 1, 14), utc(2024, 1, 21)),
    ]


def test_monthly_from_mid_month() -> None:
    assert intervals(daily("@monthly"), utc(2024, 1, 15), 2) == [
        (utc(2024, 2, 1), utc(2024, 3, 1)),
        (utc(2024, 3, 1), utc(2024, 4, 1)),
    ]


def test_monthly_from_january_31_goes_to_february_first() -> None:
    assert intervals(daily("@monthly"), utc(2024, 1, 31), 1) == [
        (utc(2024, 2, 1), utc(2024, 3, 1)),
    ]


def test_quarterly() -> None:
    assert intervals(daily("@quarterly"), utc(2024, 1, 1), 4) == [
        (utc(2024, 1, 1), utc(2024, 4, 1)),
        (utc(2024, 4, 1), utc(2024, 7, 1)),
        (utc(2024, 7, 1), utc(2024, 10, 1)),
        (utc(2024, 10, 1), utc(2025, 1, 1)),
    ]


@pytest.mark.parametrize("preset", ["@yearly", "@annually"])
def test_yearly(preset: str) -> None:
    assert intervals(daily(preset), utc(2024, 6, 1), 2) == [
        (utc(2025, 1, 1), utc(2026, 1, 1)),
        (utc(2026, 1, 1), utc(2027, 1, 1)),
    ]


def test_day_31_skips_short_months() -> None:
    assert intervals(daily("0 0 31 * *"), utc(2024, 1, 1), 4) == [
        (utc(2024, 1, 31), utc(2024, 3, 31)),
        (utc(2024, 3, 31), utc(2024, 5, 31)),
        (utc(2024, 5, 31), utc(2024, 7, 31)),
        (utc(2024, 7, 31), utc(2024, 8, 31)),
    ]


def test_last_day_of_month_includes_leap_february() -> None:
    assert intervals(daily("0 0 L * *"), utc(2024, 1, 1), 4) == [
        (utc(2024, 1, 31), utc(2024, 2, 29)),
        (utc(2024, 2, 29), utc(2024, 3, 31)),
        (utc(2024, 3, 31), utc(2024, 4, 30)),
        (utc(2024, 4, 30), utc(2024, 5, 31)),
    ]


def test_weekdays_only() -> None:
    # Friday 2024-01-05 09:00 is followed by Monday the 8th.
    assert intervals(daily("0 9 * * 1-5"), utc(2024, 1, 5), 2) == [
        (utc(2024, 1, 5, 9), utc(2024, 1, 8, 9)),
        (utc(2024, 1, 8, 9), utc(2024, 1, 9, 9)),
    ]


# --- end_date --------------------------------------------------------------------


def test_end_date_is_the_last_allowed_interval_start() -> None:
    # As in Airflow, a run whose interval *starts* on end_date is still created.
    assert intervals(daily(), utc(2024, 1, 1), 10, end_date=utc(2024, 1, 3)) == [
        (utc(2024, 1, 1), utc(2024, 1, 2)),
        (utc(2024, 1, 2), utc(2024, 1, 3)),
        (utc(2024, 1, 3), utc(2024, 1, 4)),
    ]
    assert intervals(daily(), utc(2024, 1, 1), 10, end_date=utc(2024, 1, 2, 12)) == [
        (utc(2024, 1, 1), utc(2024, 1, 2)),
        (utc(2024, 1, 2), utc(2024, 1, 3)),
    ]


def test_end_date_before_first_tick_gives_nothing() -> None:
    assert intervals(daily(), utc(2024, 1, 1, 1), 10, end_date=utc(2024, 1, 1, 12)) == []


# --- catchup=False with an injected now ---------------------------------------------


def test_catchup_false_starts_from_latest_complete_interval() -> None:
    restriction = TimeRestriction(utc(2024, 1, 1), None, catchup=False)
    info = daily().next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction, now=utc(2024, 3, 10, 12)
    )
    assert info == DagRunInfo.interval(utc(2024, 3, 9), utc(2024, 3, 10))


def test_catchup_false_now_on_a_tick_takes_the_interval_ending_now() -> None:
    restriction = TimeRestriction(utc(2024, 1, 1), None, catchup=False)
    info = daily().next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction, now=utc(2024, 3, 10)
    )
    assert info == DagRunInfo.interval(utc(2024, 3, 9), utc(2024, 3, 10))


def test_catchup_false_skips_missed_intervals_after_a_pause() -> None:
    restriction = TimeRestriction(utc(2024, 1, 1), None, catchup=False)
    info = daily().next_dagrun_info(
        last_automated_data_interval=DataInterval(utc(2024, 1, 1), utc(2024, 1, 2)),
        restriction=restriction,
        now=utc(2024, 3, 10, 12),
    )
    assert info == DagRunInfo.interval(utc(2024, 3, 9), utc(2024, 3, 10))


def test_catchup_false_continues_from_last_run_when_up_to_date() -> None:
    restriction = TimeRestriction(utc(2024, 1, 1), None, catchup=False)
    info = daily().next_dagrun_info(
        last_automated_data_interval=DataInterval(utc(2024, 3, 9), utc(2024, 3, 10)),
        restriction=restriction,
        now=utc(2024, 3, 10, 12),
    )
    assert info == DagRunInfo.interval(utc(2024, 3, 10), utc(2024, 3, 11))


def test_catchup_false_future_start_date_wins() -> None:
    restriction = TimeRestriction(utc(2024, 4, 1, 5), None, catchup=False)
    info = daily().next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction, now=utc(2024, 3, 10, 12)
    )
    assert info == DagRunInfo.interval(utc(2024, 4, 2), utc(2024, 4, 3))


def test_catchup_true_starts_at_start_date() -> None:
    restriction = TimeRestriction(utc(2024, 1, 1), None, catchup=True)
    info = daily().next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction, now=utc(2024, 3, 10, 12)
    )
    assert info == DagRunInfo.interval(utc(2024, 1, 1), utc(2024, 1, 2))


def test_iter_with_catchup_false_uses_now() -> None:
    assert intervals(daily(), utc(2024, 1, 1), 2, catchup=False, now=utc(2024, 3, 10, 12)) == [
        (utc(2024, 3, 9), utc(2024, 3, 10)),
        (utc(2024, 3, 10), utc(2024, 3, 11)),
    ]


def test_changed_schedule_realigns_the_last_interval_end() -> None:
    # The last run was daily at midnight; the DAG is now at 06:00.
    restriction = TimeRestriction(utc(2024, 1, 1), None, catchup=True)
    info = daily("0 6 * * *").next_dagrun_info(
        last_automated_data_interval=DataInterval(utc(2024, 1, 1), utc(2024, 1, 2)),
        restriction=restriction,
    )
    assert info == DagRunInfo.interval(utc(2024, 1, 1, 6), utc(2024, 1, 2, 6))


def test_no_start_date_and_catchup_gives_nothing() -> None:
    restriction = TimeRestriction(None, None, catchup=True)
    assert (
        daily().next_dagrun_info(last_automated_data_interval=None, restriction=restriction) is None
    )


def test_iter_after_gives_runs_strictly_later() -> None:
    assert intervals(daily(), utc(2024, 1, 1), 2, after=utc(2024, 2, 1)) == [
        (utc(2024, 2, 2), utc(2024, 2, 3)),
        (utc(2024, 2, 3), utc(2024, 2, 4)),
    ]
    assert intervals(daily(), utc(2024, 1, 1), 1, after=utc(2024, 2, 1, 6)) == [
        (utc(2024, 2, 2), utc(2024, 2, 3)),
    ]
    # An `after` before start_date changes nothing.
    assert intervals(daily(), utc(2024, 1, 1), 1, after=utc(2023, 1, 1)) == [
        (utc(2024, 1, 1), utc(2024, 1, 2)),
    ]


def test_iter_limit_zero_and_negative() -> None:
    assert iter_dagrun_infos(daily(), start_date=utc(2024, 1, 1), limit=0) == []
    with pytest.raises(ScheduleError, match="limit"):
        iter_dagrun_infos(daily(), start_date=utc(2024, 1, 1), limit=-1)


# --- None, @once, @continuous ---------------------------------------------------------


def test_none_never_schedules() -> None:
    timetable = timetable_from_schedule(None, timezone="UTC")
    assert isinstance(timetable, NullTimetable)
    assert not timetable.can_be_scheduled
    assert not timetable.periodic
    assert timetable.summary == "None"
    assert iter_dagrun_infos(timetable, start_date=utc(2024, 1, 1), limit=5) == []


def test_once_runs_exactly_once_at_start_date() -> None:
    timetable = timetable_from_schedule("@once", timezone="UTC")
    assert isinstance(timetable, OnceTimetable)
    infos = iter_dagrun_infos(timetable, start_date=utc(2024, 1, 1, 9), limit=5)
    assert infos == [DagRunInfo.exact(utc(2024, 1, 1, 9))]
    # catchup=False does not move it either.
    assert iter_dagrun_infos(
        timetable, start_date=utc(2024, 1, 1, 9), catchup=False, now=utc(2024, 6, 1), limit=5
    ) == [DagRunInfo.exact(utc(2024, 1, 1, 9))]


def test_once_without_start_date_runs_now_and_respects_end_date() -> None:
    timetable = OnceTimetable()
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(None, None, True),
        now=utc(2024, 5, 5, 5),
    )
    assert info == DagRunInfo.exact(utc(2024, 5, 5, 5))
    restriction = TimeRestriction(utc(2024, 2, 1), utc(2024, 1, 1), True)
    assert (
        timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
        is None
    )


def test_continuous_covers_time_since_the_last_run() -> None:
    timetable = timetable_from_schedule("@continuous", timezone="UTC")
    assert isinstance(timetable, ContinuousTimetable)
    assert timetable.active_runs_limit == 1
    restriction = TimeRestriction(utc(2024, 1, 1), None, True)
    first = timetable.next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction, now=utc(2024, 1, 2)
    )
    assert first == DagRunInfo.interval(utc(2024, 1, 1), utc(2024, 1, 2))
    second = timetable.next_dagrun_info(
        last_automated_data_interval=first.data_interval,
        restriction=restriction,
        now=utc(2024, 1, 2, 0, 5),
    )
    assert second == DagRunInfo.interval(utc(2024, 1, 2), utc(2024, 1, 2, 0, 5))


def test_iter_continuous_stops_when_it_cannot_move_on() -> None:
    infos = iter_dagrun_infos(
        ContinuousTimetable(), start_date=utc(2024, 1, 1), now=utc(2024, 1, 2), limit=10
    )
    assert [tuple(i.data_interval) for i in infos] == [
        (utc(2024, 1, 1), utc(2024, 1, 2)),
        (utc(2024, 1, 2), utc(2024, 1, 2)),
    ]


# --- CronTriggerTimetable ------------------------------------------------------------


def test_cron_trigger_with_interval() -> None:
    timetable = CronTriggerTimetable("0 2 * * *", timezone="UTC", interval=timedelta(hours=4))
    infos = iter_dagrun_infos(timetable, start_date=utc(2024, 1, 1), limit=2)
    assert infos == [
        DagRunInfo(utc(2024, 1, 1, 2), DataInterval(utc(2023, 12, 31, 22), utc(2024, 1, 1, 2))),
        DagRunInfo(utc(2024, 1, 2, 2), DataInterval(utc(2024, 1, 1, 22), utc(2024, 1, 2, 2))),
    ]
    # Airflow: logical_date is the data interval's start, the tick minus the interval.
    assert infos[0].logical_date == utc(2023, 12, 31, 22)


def test_cron_trigger_without_interval_runs_at_the_tick() -> None:
    timetable = timetable_from_schedule("0 2 * * *", timezone="UTC", cron_data_intervals=False)
    assert isinstance(timetable, CronTriggerTimetable)
    infos = iter_dagrun_infos(
        timetable, start_date=utc(2024, 1, 1, 2), end_date=utc(2024, 1, 3, 2), limit=9
    )
    assert [i.run_after for i in infos] == [
        utc(2024, 1, 1, 2),
        utc(2024, 1, 2, 2),
        utc(2024, 1, 3, 2),
    ]
    assert [i.logical_date for i in infos] == [i.run_after for i in infos]
    assert all(i.data_interval.start == i.data_interval.end for i in infos)


def test_cron_trigger_catchup_false_runs_the_latest_past_tick() -> None:
    timetable = CronTriggerTimetable("0 2 * * *", timezone="UTC")
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(utc(2024, 1, 1), None, False),
        now=utc(2024, 3, 10, 12),
    )
    assert info == DagRunInfo.exact(utc(2024, 3, 10, 2))
    following = timetable.next_dagrun_info(
        last_automated_data_interval=info.data_interval,
        restriction=TimeRestriction(utc(2024, 1, 1), None, False),
        now=utc(2024, 3, 10, 12),
    )
    assert following == DagRunInfo.exact(utc(2024, 3, 11, 2))


@pytest.mark.parametrize(
    ("run_immediately", "expected"),
    [
        (True, utc(2024, 1, 10, 2)),
        (False, utc(2024, 1, 11, 2)),
        (timedelta(minutes=5), utc(2024, 1, 10, 2)),
        (timedelta(minutes=1), utc(2024, 1, 11, 2)),
    ],
)
def test_cron_trigger_run_immediately_without_start_date(
    run_immediately: bool | timedelta, expected: datetime
) -> None:
    timetable = CronTriggerTimetable("0 2 * * *", timezone="UTC", run_immediately=run_immediately)
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(None, None, True),
        now=utc(2024, 1, 10, 2, 3),
    )
    assert info is not None
    assert info.run_after == expected


def test_cron_trigger_end_date_is_inclusive() -> None:
    timetable = CronTriggerTimetable("@daily", timezone="UTC")
    infos = iter_dagrun_infos(
        timetable, start_date=utc(2024, 1, 1), end_date=utc(2024, 1, 2), limit=9
    )
    assert [i.run_after for i in infos] == [utc(2024, 1, 1), utc(2024, 1, 2)]


# --- DeltaDataIntervalTimetable ------------------------------------------------------


def test_delta_intervals_start_at_start_date() -> None:
    timetable = timetable_from_schedule(timedelta(hours=6), timezone="UTC")
    assert isinstance(timetable, DeltaDataIntervalTimetable)
    assert intervals(timetable, utc(2024, 1, 1, 3), 3) == [
        (utc(2024, 1, 1, 3), utc(2024, 1, 1, 9)),
        (utc(2024, 1, 1, 9), utc(2024, 1, 1, 15)),
        (utc(2024, 1, 1, 15), utc(2024, 1, 1, 21)),
    ]
    assert timetable.summary == "6:00:00"
    assert timetable.description == "Every 6 hours"


def test_delta_catchup_false_rounds_now_to_the_epoch_grid() -> None:
    timetable = DeltaDataIntervalTimetable(timedelta(hours=6))
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(utc(2024, 1, 1, 3), None, False),
        now=utc(2024, 3, 10, 13),
    )
    assert info == DagRunInfo.interval(utc(2024, 3, 10, 6), utc(2024, 3, 10, 12))


def test_delta_catchup_false_keeps_a_later_start_date() -> None:
    timetable = DeltaDataIntervalTimetable(timedelta(days=1))
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(utc(2024, 3, 20, 7), None, False),
        now=utc(2024, 3, 10, 13),
    )
    assert info == DagRunInfo.interval(utc(2024, 3, 20, 7), utc(2024, 3, 21, 7))


# --- manual runs -----------------------------------------------------------------------


def test_infer_manual_data_interval_cron_is_latest_complete_interval() -> None:
    timetable = daily()
    assert timetable.infer_manual_data_interval(run_after=utc(2024, 1, 25, 1)) == DataInterval(
        utc(2024, 1, 24), utc(2024, 1, 25)
    )
    # Right on a tick: the interval that ends then.
    assert timetable.infer_manual_data_interval(run_after=utc(2024, 1, 25)) == DataInterval(
        utc(2024, 1, 24), utc(2024, 1, 25)
    )
    assert daily("0 0 31 * *").infer_manual_data_interval(run_after=utc(2024, 3, 1)) == (
        DataInterval(utc(2023, 12, 31), utc(2024, 1, 31))
    )


def test_infer_manual_data_interval_other_timetables() -> None:
    at = utc(2024, 1, 25, 1, 30)
    assert DeltaDataIntervalTimetable(timedelta(days=1)).infer_manual_data_interval(
        run_after=at
    ) == DataInterval(utc(2024, 1, 24, 1, 30), at)
    trigger = CronTriggerTimetable("0 2 * * *", timezone="UTC", interval=timedelta(hours=4))
    assert trigger.infer_manual_data_interval(run_after=at) == DataInterval(
        utc(2024, 1, 24, 21, 30), at
    )
    for timetable in (NullTimetable(), OnceTimetable(), ContinuousTimetable()):
        assert timetable.infer_manual_data_interval(run_after=at) == DataInterval(at, at)


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cron", ["* * *", "61 * * * *", "not a cron", "", "0 0 30 2 *", "@fortnightly"]
)
def test_bad_cron_raises_schedule_error_naming_it(cron: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        timetable_from_schedule(cron, timezone="UTC")
    assert repr(cron) in str(caught.value)
    with pytest.raises(ScheduleError):
        timetable_from_schedule(cron, timezone="UTC", cron_data_intervals=False)


@pytest.mark.parametrize(
    ("cron", "reason"),
    [
        ("0 25 * * *", "hour 25 is out of range 0-23"),
        ("61 * * * *", "minute 61 is out of range 0-59"),
        ("0 0 32 * *", "day of month 32 is out of range 1-31"),
        ("0 0 0 * *", "day of month 0 is out of range 1-31"),
        ("0 0 * 13 *", "month 13 is out of range 1-12"),
        ("0 0 * * 8", "day of week 8 is out of range 0-7"),
        ("0-70 * * * *", "minute 70 is out of range 0-59"),
        ("1,2,99 * * * *", "minute 99 is out of range 0-59"),
        ("*/0 * * * *", "minute step '0' is not a positive number"),
        ("* * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 3"),
        ("@fortnightly", "unknown preset; the presets are @hourly, @daily"),
    ],
)
def test_bad_cron_message_names_the_field(cron: str, reason: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        timetable_from_schedule(cron, timezone="UTC")
    assert f"invalid cron expression {cron!r}: {reason}" in str(caught.value)


@pytest.mark.parametrize("tz", ["UTC", "Asia/Tokyo", "America/New_York"])
@pytest.mark.parametrize("cron", ["@daily", "0 * * * *", "@yearly"])
def test_ticks_beyond_datetime_range_raise_schedule_error(cron: str, tz: str) -> None:
    schedule = CronSchedule(cron, parse_timezone(tz))
    with pytest.raises(ScheduleError, match=r"date out of range: .* has no tick before"):
        schedule.prev(utc(1, 1, 1))
    with pytest.raises(ScheduleError, match=r"date out of range: .* has no tick after"):
        schedule.next(utc(9999, 12, 31, 23, 30))


@pytest.mark.parametrize("data_intervals", [True, False])
def test_manual_run_at_year_1_raises_schedule_error(data_intervals: bool) -> None:
    timetable = timetable_from_schedule(
        "@daily", timezone="UTC", cron_data_intervals=data_intervals
    )
    with pytest.raises(ScheduleError, match="date out of range"):
        # A data-interval timetable needs the tick before; a trigger timetable the one after.
        if data_intervals:
            timetable.infer_manual_data_interval(run_after=utc(1, 1, 1))
        else:
            iter_dagrun_infos(timetable, start_date=utc(9999, 12, 31, 1), limit=1)


def test_delta_beyond_datetime_range_raises_schedule_error() -> None:
    timetable = timetable_from_schedule(timedelta(days=1), timezone="UTC")
    with pytest.raises(ScheduleError, match="date out of range"):
        timetable.infer_manual_data_interval(run_after=utc(1, 1, 1))
    with pytest.raises(ScheduleError, match="date out of range"):
        iter_dagrun_infos(timetable, start_date=utc(9999, 12, 31), limit=1)


def test_bad_schedule_message_names_the_dag() -> None:
    with pytest.raises(ScheduleError) as caught:
        timetable_from_schedule("* * *", timezone="UTC", dag_id="x")
    assert str(caught.value).startswith("DAG 'x': invalid schedule '* * *': ")


@pytest.mark.parametrize("schedule", [5, 1.5, True, ["@daily"], object(), b"@daily"])
def test_bad_schedule_type_raises(schedule: object) -> None:
    with pytest.raises(ScheduleError) as caught:
        timetable_from_schedule(schedule, timezone="UTC")
    assert repr(schedule) in str(caught.value)
    assert type(schedule).__name__ in str(caught.value)


@pytest.mark.parametrize("delta", [timedelta(0), timedelta(hours=-1)])
def test_non_positive_delta_raises(delta: timedelta) -> None:
    with pytest.raises(ScheduleError, match="positive"):
        timetable_from_schedule(delta, timezone="UTC")


def test_bad_timezone_raises() -> None:
    with pytest.raises(ScheduleError, match="Mars/Olympus"):
        timetable_from_schedule("@daily", timezone="Mars/Olympus")
    with pytest.raises(ScheduleError):
        CronTriggerTimetable("@daily", timezone=42)  # type: ignore[arg-type]


def test_bad_trigger_arguments_raise() -> None:
    with pytest.raises(ScheduleError, match="interval"):
        CronTriggerTimetable("@daily", timezone="UTC", interval=timedelta(hours=-1))
    with pytest.raises(ScheduleError, match="run_immediately"):
        CronTriggerTimetable("@daily", timezone="UTC", run_immediately=3)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2024, 1, 1)
    with pytest.raises(ScheduleError, match="timezone-aware"):
        iter_dagrun_infos(daily(), start_date=naive, limit=1)
    with pytest.raises(ScheduleError, match="timezone-aware"):
        daily().infer_manual_data_interval(run_after=naive)
    with pytest.raises(ScheduleError, match="timezone-aware"):
        daily().next_dagrun_info(
            last_automated_data_interval=None, restriction=TimeRestriction(naive, None, True)
        )
    with pytest.raises(ScheduleError, match="timezone-aware"):
        daily().next_dagrun_info(
            last_automated_data_interval=None,
            restriction=TimeRestriction(utc(2024, 1, 1), None, False),
            now=naive,
        )


def test_timetable_instance_passes_through() -> None:
    timetable = CronTriggerTimetable("0 2 * * *", timezone="UTC", interval=timedelta(hours=4))
    assert timetable_from_schedule(timetable, timezone="Europe/Paris") is timetable


# --- summary, description --------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "description"),
    [
        ("0 2 * * *", "At 02:00"),
        ("@daily", "At 00:00"),
        ("@hourly", "At 0 minutes past the hour"),
        ("@weekly", "At 00:00, only on Sunday"),
        ("@monthly", "At 00:00, on day 1 of the month"),
        ("@quarterly", "At 00:00, on day 1 of the month, every 3 months"),
        ("@yearly", "At 00:00, on day 1 of the month, only in January"),
        ("* * * * *", "Every minute"),
        ("*/15 * * * *", "Every 15 minutes"),
        ("0 9 * * 1-5", "At 09:00, Monday through Friday"),
        ("30 6 * * MON,FRI", "At 06:30, only on Monday and Friday"),
        ("0 0 L * *", "At 00:00, on the last day of the month"),
        ("0 0,12 * * *", "At 00:00 and 12:00"),
        ("15 */2 * * *", "At 15 minutes past the hour, every 2 hours"),
        ("0 9-17 * * *", "At 0 minutes past the hour, between 09:00 and 17:59"),
        ("5 4 */2 * *", "5 4 */2 * *"),
    ],
)
def test_cron_description(cron: str, description: str) -> None:
    assert daily(cron).description == description
    assert CronTriggerTimetable(cron, timezone="UTC").description == description


def test_summaries() -> None:
    assert daily("@daily").summary == "@daily"
    assert daily("0 2 * * *").summary == "0 2 * * *"
    assert CronTriggerTimetable("0 2 * * *", timezone="UTC").summary == "0 2 * * *"
    assert OnceTimetable().summary == "@once"
    assert ContinuousTimetable().summary == "@continuous"
    assert DeltaDataIntervalTimetable(timedelta(days=1)).summary == "1 day, 0:00:00"
    assert isinstance(daily("@daily"), CronDataIntervalTimetable)
    assert daily("@daily").expression == "0 0 * * *"  # type: ignore[attr-defined]


# --- serialization ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "timetable",
    [
        NullTimetable(),
        OnceTimetable(),
        ContinuousTimetable(),
        CronDataIntervalTimetable("@daily", "UTC"),
        CronDataIntervalTimetable("30 2 * * *", "Europe/Paris"),
        CronDataIntervalTimetable("0 * * * *", timezone(timedelta(hours=5, minutes=30))),
        CronTriggerTimetable("0 2 * * *", timezone="UTC", interval=timedelta(hours=4)),
        CronTriggerTimetable("0 2 * * *", timezone="America/New_York", run_immediately=True),
        CronTriggerTimetable("0 2 * * *", timezone="UTC", run_immediately=timedelta(minutes=10)),
        DeltaDataIntervalTimetable(timedelta(hours=6, seconds=1)),
    ],
    ids=repr,
)
def test_serialize_round_trip(timetable: Timetable) -> None:
    data = json.loads(json.dumps(timetable.serialize()))
    assert data["type"] == type(timetable).__name__
    rebuilt = timetable_from_dict(data)
    assert rebuilt == timetable
    assert type(rebuilt) is type(timetable)
    assert rebuilt.serialize() == timetable.serialize()
    assert rebuilt.summary == timetable.summary
    assert hash(rebuilt) == hash(timetable)


def test_serialized_fields() -> None:
    assert CronTriggerTimetable(
        "0 2 * * *", timezone="Europe/Paris", interval=timedelta(hours=4)
    ).serialize() == {
        "type": "CronTriggerTimetable",
        "expression": "0 2 * * *",
        "timezone": "Europe/Paris",
        "interval": 14400.0,
        "run_immediately": False,
    }
    assert DeltaDataIntervalTimetable(timedelta(days=1)).serialize() == {
        "type": "DeltaDataIntervalTimetable",
        "delta": 86400.0,
    }
    assert CronDataIntervalTimetable("@daily", UTC).serialize() == {
        "type": "CronDataIntervalTimetable",
        "expression": "@daily",
        "timezone": "UTC",
    }


def test_deserialize_run_immediately_true_stays_a_bool() -> None:
    rebuilt = timetable_from_dict(
        {
            "type": "CronTriggerTimetable",
            "expression": "@daily",
            "timezone": "UTC",
            "interval": 0,
            "run_immediately": True,
        }
    )
    assert isinstance(rebuilt, CronTriggerTimetable)
    assert rebuilt.run_immediately is True


@pytest.mark.parametrize(
    "data",
    [{}, {"type": "NoSuchTimetable"}, {"type": "CronDataIntervalTimetable"}, {"type": 3}],
)
def test_deserialize_bad_data_raises(data: dict) -> None:
    with pytest.raises(ScheduleError):
        timetable_from_dict(data)


def test_equality_distinguishes_parameters() -> None:
    assert daily("@daily") != daily("@daily", "Europe/Paris")
    assert daily("@daily") != CronTriggerTimetable("@daily", timezone="UTC")
    assert NullTimetable() == NullTimetable()
    assert NullTimetable() != OnceTimetable()


def test_public_reexports() -> None:
    import sluice.timetables as public

    assert public.CronTriggerTimetable is CronTriggerTimetable
    assert set(public.__all__) == {
        "CronDataIntervalTimetable",
        "CronTriggerTimetable",
        "DeltaDataIntervalTimetable",
        "NullTimetable",
        "OnceTimetable",
        "ContinuousTimetable",
        "Timetable",
        "DataInterval",
        "DagRunInfo",
        "TimeRestriction",
    }
