"""CronTriggerTimetable: runs at each cron tick, like cron itself."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from sluice.core.errors import ScheduleError
from sluice.sdk.timetables.base import (
    DagRunInfo,
    DataInterval,
    TimeRestriction,
    Timetable,
    current_time,
    interval_in_utc,
    restriction_in_utc,
)
from sluice.sdk.timetables.cron import CronExpressionMixin, CronSchedule
from sluice.sdk.timetables.describe import describe_cron
from sluice.sdk.timetables.zones import ensure_utc, parse_timezone, timezone_name


class CronTriggerTimetable(CronExpressionMixin, Timetable):
    """A run at every tick of a cron expression; its data interval is (tick - interval, tick).

    The run starts at the tick itself rather than one period later. With the default
    ``interval=timedelta(0)`` the data interval is empty and the logical date is the tick.

    ``run_immediately`` only matters for a first run without start_date: True runs the
    latest past tick, False waits for the next tick, a timedelta runs the latest past
    tick if it is at most that old.
    """

    def __init__(
        self,
        cron: str,
        *,
        timezone: str | tzinfo,
        interval: timedelta = timedelta(0),
        run_immediately: bool | timedelta = False,
    ) -> None:
        self._cron = CronSchedule(cron, parse_timezone(timezone))
        self._interval = interval
        self._run_immediately = run_immediately
        self.validate()
        self.description = describe_cron(self._cron.expression)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self._cron.text!r}, "
            f"timezone={timezone_name(self.timezone)!r}, interval={self._interval!r}, "
            f"run_immediately={self._run_immediately!r})"
        )

    @property
    def interval(self) -> timedelta:
        """How far before each tick its data interval starts."""
        return self._interval

    @property
    def run_immediately(self) -> bool | timedelta:
        """What a first run without start_date does; see the class docstring."""
        return self._run_immediately

    def validate(self) -> None:
        """Raise ScheduleError for a bad expression, interval or run_immediately."""
        CronSchedule(self._cron.text, self._cron.timezone)
        if not isinstance(self._interval, timedelta) or self._interval < timedelta(0):
            raise ScheduleError(
                f"CronTriggerTimetable interval must be a timedelta >= 0, not {self._interval!r}"
            )
        if not isinstance(self._run_immediately, bool | timedelta):
            raise ScheduleError(
                "CronTriggerTimetable run_immediately must be a bool or a timedelta, "
                f"not {self._run_immediately!r}"
            )

    def serialize(self) -> dict[str, Any]:
        """Type, expression, timezone name, interval seconds and run_immediately."""
        run_immediately: bool | float
        if isinstance(self._run_immediately, timedelta):
            run_immediately = self._run_immediately.total_seconds()
        else:
            run_immediately = self._run_immediately
        return {
            "type": type(self).__name__,
            "expression": self._cron.text,
            "timezone": timezone_name(self.timezone),
            "interval": self._interval.total_seconds(),
            "run_immediately": run_immediately,
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        """Build from ``serialize``'s output."""
        raw = data.get("run_immediately", False)
        # bool before number: JSON true must not become timedelta(seconds=1).
        run_immediately = raw if isinstance(raw, bool) else timedelta(seconds=raw)
        return cls(
            data["expression"],
            timezone=data["timezone"],
            interval=timedelta(seconds=data.get("interval", 0)),
            run_immediately=run_immediately,
        )

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """The interval that ends at `run_after`."""
        end = ensure_utc(run_after, "run_after")
        return DataInterval(self._interval_start(end), end)

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """The next tick, as Airflow's CronTriggerTimetable picks it."""
        last = interval_in_utc(last_automated_data_interval)
        restriction = restriction_in_utc(restriction)
        if restriction.catchup:
            if last is not None:
                tick = self._cron.next(last.end)
            elif restriction.earliest is None:
                tick = self._first_tick(current_time(now))
            else:
                tick = self._cron.align_to_next(restriction.earliest)
        else:
            moment = current_time(now)
            candidates = [self._cron.align_to_prev(moment)]
            if last is not None:
                candidates.append(self._cron.next(last.end))
            elif restriction.earliest is None:
                candidates.append(self._first_tick(moment))
            if restriction.earliest is not None:
                candidates.append(self._cron.align_to_next(restriction.earliest))
            tick = max(candidates)
        if restriction.latest is not None and restriction.latest < tick:
            return None
        return DagRunInfo(
            run_after=tick, data_interval=DataInterval(self._interval_start(tick), tick)
        )

    def _interval_start(self, end: datetime) -> datetime:
        try:
            return end - self._interval
        except OverflowError:
            raise ScheduleError(
                f"date out of range: the data interval ending {end.isoformat()} would start"
                " before year 1"
            ) from None

    def _first_tick(self, now: datetime) -> datetime:
        # Without start_date: the latest past tick or the next one, per run_immediately.
        past = self._cron.align_to_prev(now)
        upcoming = self._cron.align_to_next(now)
        if self._run_immediately is True:  # `is`: a timedelta is truthy too
            return past
        if self._run_immediately is False:
            return upcoming
        return past if now - past <= self._run_immediately else upcoming
