"""Timetables whose runs cover back-to-back data intervals: cron strings and timedeltas."""

from __future__ import annotations

from abc import abstractmethod
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
from sluice.sdk.timetables.describe import describe_cron, describe_delta
from sluice.sdk.timetables.zones import UTC, ensure_utc, parse_timezone, timezone_name

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _DataIntervalTimetable(Timetable):
    """Runs cover [start, end) between consecutive ticks and start once `end` has passed."""

    @abstractmethod
    def _skip_to_latest(self, earliest: datetime | None, now: datetime) -> datetime:
        """The start of the latest complete interval, bounded by `earliest` (catchup=False)."""

    @abstractmethod
    def _align_to_next(self, current: datetime) -> datetime: ...

    @abstractmethod
    def _align_to_prev(self, current: datetime) -> datetime: ...

    @abstractmethod
    def _get_next(self, current: datetime) -> datetime: ...

    @abstractmethod
    def _get_prev(self, current: datetime) -> datetime: ...

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """The next interval after the last one, as Airflow's _DataIntervalTimetable picks it."""
        last = interval_in_utc(last_automated_data_interval)
        restriction = restriction_in_utc(restriction)
        earliest = restriction.earliest
        if not restriction.catchup:
            earliest = self._skip_to_latest(earliest, current_time(now))
        elif earliest is not None:
            earliest = self._align_to_next(earliest)
        if last is None:
            if earliest is None:
                return None
            start = earliest
        else:
            # Aligning matters when the schedule changed since the last run.
            start = self._align_to_prev(last.end)
            if earliest is not None:
                # catchup=False, or a start_date moved into the future: the later wins.
                start = max(start, earliest)
        if restriction.latest is not None and start > restriction.latest:
            return None
        return DagRunInfo.interval(start=start, end=self._get_next(start))


class CronDataIntervalTimetable(CronExpressionMixin, _DataIntervalTimetable):
    """Data intervals between consecutive ticks of a cron expression (``schedule="0 2 * * *"``)."""

    def __init__(self, cron: str, timezone: str | tzinfo) -> None:
        self._cron = CronSchedule(cron, parse_timezone(timezone))
        self.description = describe_cron(self._cron.expression)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._cron.text!r}, {timezone_name(self.timezone)!r})"

    def validate(self) -> None:
        """Raise ScheduleError when the expression does not parse."""
        CronSchedule(self._cron.text, self._cron.timezone)

    def serialize(self) -> dict[str, Any]:
        """Type, expression and timezone name."""
        return {
            "type": type(self).__name__,
            "expression": self._cron.text,
            "timezone": timezone_name(self.timezone),
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        """Build from ``serialize``'s output."""
        return cls(data["expression"], data["timezone"])

    def _get_next(self, current: datetime) -> datetime:
        return self._cron.next(current)

    def _get_prev(self, current: datetime) -> datetime:
        return self._cron.prev(current)

    def _align_to_next(self, current: datetime) -> datetime:
        return self._cron.align_to_next(current)

    def _align_to_prev(self, current: datetime) -> datetime:
        return self._cron.align_to_prev(current)

    def _skip_to_latest(self, earliest: datetime | None, now: datetime) -> datetime:
        # The latest interval that has ended by `now`; when `now` is exactly a tick,
        # that is the interval ending now, not the one starting now.
        last_start = self._get_prev(now)
        next_start = self._get_next(last_start)
        new_start = last_start if next_start == now else self._get_prev(last_start)
        if earliest is None:
            return new_start
        return max(new_start, self._align_to_next(earliest))

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """The last complete interval before `run_after` (1am on the 25th gives 24th-25th)."""
        end = self._align_to_prev(ensure_utc(run_after, "run_after"))
        return DataInterval(start=self._get_prev(end), end=end)


class DeltaDataIntervalTimetable(_DataIntervalTimetable):
    """Data intervals of a fixed length (``schedule=timedelta(hours=6)``), in elapsed time."""

    def __init__(self, delta: timedelta) -> None:
        if not isinstance(delta, timedelta):
            raise ScheduleError(f"invalid schedule interval {delta!r}: expected a timedelta")
        self._delta = delta
        self.validate()
        self.description = describe_delta(delta)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._delta!r})"

    @property
    def summary(self) -> str:
        """The delta as Python prints it, e.g. ``1 day, 0:00:00``."""
        return str(self._delta)

    @property
    def delta(self) -> timedelta:
        """The length of each interval."""
        return self._delta

    def validate(self) -> None:
        """Raise ScheduleError unless the delta is positive."""
        if self._delta <= timedelta(0):
            raise ScheduleError(f"schedule interval must be positive, not {self._delta!r}")

    def serialize(self) -> dict[str, Any]:
        """Type and delta in seconds."""
        return {"type": type(self).__name__, "delta": self._delta.total_seconds()}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        """Build from ``serialize``'s output."""
        return cls(timedelta(seconds=data["delta"]))

    def _get_next(self, current: datetime) -> datetime:
        try:
            return current + self._delta
        except OverflowError:
            raise self._out_of_range("after", current) from None

    def _get_prev(self, current: datetime) -> datetime:
        try:
            return current - self._delta
        except OverflowError:
            raise self._out_of_range("before", current) from None

    def _out_of_range(self, direction: str, current: datetime) -> ScheduleError:
        return ScheduleError(
            f"date out of range: schedule {self.summary!r} has no interval {direction}"
            f" {current.isoformat()} that a datetime can hold (years 1 to 9999)"
        )

    def _align_to_next(self, current: datetime) -> datetime:
        return current

    def _align_to_prev(self, current: datetime) -> datetime:
        return current

    def _skip_to_latest(self, earliest: datetime | None, now: datetime) -> datetime:
        # Airflow rounds `now` down to a multiple of the delta since the Unix epoch and
        # steps back one delta; unlike the cron version, start_date is not aligned.
        rounded = _EPOCH + ((now - _EPOCH) // self._delta) * self._delta
        new_start = self._get_prev(rounded)
        if earliest is None:
            return new_start
        return max(new_start, earliest)

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """The delta that ends at `run_after`."""
        end = ensure_utc(run_after, "run_after")
        return DataInterval(start=self._get_prev(end), end=end)
