"""Schedules: turning a DAG's ``schedule`` into a timetable, and timetables to and from dicts.

The timetables themselves live in ``sluice.sdk.timetables``; this module is their
public home. Every datetime a timetable returns is aware and in UTC
(``datetime.timezone.utc``); a naive datetime passed in raises ScheduleError.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from sluice.core.errors import ScheduleError
from sluice.sdk.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from sluice.sdk.timetables.cron import CRON_PRESETS
from sluice.sdk.timetables.interval import CronDataIntervalTimetable, DeltaDataIntervalTimetable
from sluice.sdk.timetables.simple import ContinuousTimetable, NullTimetable, OnceTimetable
from sluice.sdk.timetables.trigger import CronTriggerTimetable
from sluice.sdk.timetables.zones import ensure_utc

__all__ = [
    "CRON_PRESETS",
    "ContinuousTimetable",
    "CronDataIntervalTimetable",
    "CronTriggerTimetable",
    "DagRunInfo",
    "DataInterval",
    "DeltaDataIntervalTimetable",
    "NullTimetable",
    "OnceTimetable",
    "TimeRestriction",
    "Timetable",
    "iter_dagrun_infos",
    "timetable_from_dict",
    "timetable_from_schedule",
]

_TIMETABLE_TYPES: dict[str, type[Timetable]] = {
    cls.__name__: cls
    for cls in (
        NullTimetable,
        OnceTimetable,
        ContinuousTimetable,
        CronDataIntervalTimetable,
        CronTriggerTimetable,
        DeltaDataIntervalTimetable,
    )
}

# Stops iter_dagrun_infos when `after` lies far past start_date and runs are dense.
_MAX_SKIPPED = 100_000


def timetable_from_schedule(
    schedule: object,
    *,
    timezone: str | tzinfo,
    cron_data_intervals: bool = True,
    dag_id: str | None = None,
) -> Timetable:
    """Return the timetable for a DAG's ``schedule`` argument, as Airflow maps it.

    None, ``"@once"``, ``"@continuous"``, a preset or cron string, a timedelta, or a
    Timetable (returned as is). With ``cron_data_intervals=False`` a cron string gives
    a CronTriggerTimetable (Airflow 3's default) instead of a CronDataIntervalTimetable.
    """
    try:
        return _timetable_for(schedule, timezone, cron_data_intervals)
    except ScheduleError as exc:
        prefix = f"DAG {dag_id!r}: " if dag_id is not None else ""
        raise ScheduleError(f"{prefix}invalid schedule {schedule!r}: {exc}") from exc


def _timetable_for(
    schedule: object, timezone: str | tzinfo, cron_data_intervals: bool
) -> Timetable:
    if schedule is None:
        return NullTimetable()
    if isinstance(schedule, Timetable):
        schedule.validate()
        return schedule
    if isinstance(schedule, str):
        if schedule == "@once":
            return OnceTimetable()
        if schedule == "@continuous":
            return ContinuousTimetable()
        if cron_data_intervals:
            return CronDataIntervalTimetable(schedule, timezone)
        return CronTriggerTimetable(schedule, timezone=timezone)
    if isinstance(schedule, timedelta):
        return DeltaDataIntervalTimetable(schedule)
    raise ScheduleError(
        "expected None, a cron string or preset, a timedelta or a Timetable, "
        f"got {type(schedule).__name__}"
    )


def timetable_from_dict(data: dict[str, Any]) -> Timetable:
    """Rebuild a timetable from ``Timetable.serialize()``'s output."""
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ScheduleError(f"invalid serialized timetable {data!r}: no 'type'")
    cls = _TIMETABLE_TYPES.get(data["type"])
    if cls is None:
        raise ScheduleError(f"unknown timetable type {data['type']!r}")
    try:
        return cls.deserialize(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ScheduleError(f"invalid serialized timetable {data!r}: {exc!r}") from exc


def iter_dagrun_infos(
    timetable: Timetable,
    *,
    start_date: datetime,
    end_date: datetime | None = None,
    catchup: bool = True,
    after: datetime | None = None,
    limit: int,
    now: datetime | None = None,
) -> list[DagRunInfo]:
    """The first `limit` automated runs from start_date, oldest first.

    With `after`, only runs whose logical date is strictly later than `after`. `now`
    (default: the clock) is what catchup=False measures "latest complete interval" from.
    """
    if limit < 0:
        raise ScheduleError(f"limit must be >= 0, not {limit}")
    earliest = ensure_utc(start_date, "start_date")
    cutoff = None if after is None else ensure_utc(after, "after")
    if cutoff is not None:
        earliest = max(earliest, cutoff)
    latest = None if end_date is None else ensure_utc(end_date, "end_date")
    restriction = TimeRestriction(earliest, latest, catchup)
    fixed_now = None if now is None else ensure_utc(now, "now")
    infos: list[DagRunInfo] = []
    last: DataInterval | None = None
    skipped = 0
    while len(infos) < limit and skipped <= _MAX_SKIPPED:
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last, restriction=restriction, now=fixed_now
        )
        # A run identical to the last one means the timetable cannot move on (@continuous
        # with a fixed `now`); stop rather than repeat it.
        if info is None or info.data_interval == last:
            break
        last = info.data_interval
        if cutoff is not None and info.logical_date <= cutoff:
            skipped += 1
            continue
        infos.append(info)
    return infos
