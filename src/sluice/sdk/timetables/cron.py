"""Cron expressions evaluated in a timezone, with Airflow's handling of DST."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, tzinfo
from typing import Any

from croniter import CroniterBadDateError, CroniterError, croniter

from sluice.core.errors import ScheduleError
from sluice.sdk.timetables.zones import from_wall_clock, to_wall_clock

CRON_PRESETS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
"""Airflow's cron presets, plus ``@annually`` as croniter spells ``@yearly``."""

# A fixed reference, so that checking whether a cron ever fires is deterministic.
_PROBE_START = datetime(2000, 1, 1)

_ONE_HOUR = timedelta(hours=1)

# The five standard fields and the values croniter accepts in each (7 is Sunday too).
_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)


class CronSchedule:
    """A cron expression evaluated in one timezone; every method takes and returns UTC."""

    def __init__(self, expression: str, tz: tzinfo) -> None:
        if not isinstance(expression, str):
            raise ScheduleError(f"invalid cron expression {expression!r}: expected a string")
        self.text = expression
        self.expression = CRON_PRESETS.get(expression, expression)
        self.timezone = tz
        try:
            probe = croniter(self.expression, _PROBE_START)
            probe.get_next(datetime)
        except CroniterBadDateError as exc:
            raise ScheduleError(f"invalid cron expression {expression!r}: it never fires") from exc
        except (CroniterError, ValueError, TypeError, KeyError, IndexError) as exc:
            reason = _field_problem(self.expression) or str(exc)
            raise ScheduleError(f"invalid cron expression {expression!r}: {reason}") from exc
        # Airflow's "fold hour" fix: a cron that fires every hour moves by elapsed time
        # across DST, so 02:30 CEST is followed by 02:30 CET, not by 03:30 CET.
        # croniter normalises an every-hour field to ["*"].
        self.fires_every_hour = probe.expanded[1] == ["*"]
        self.field_count = len(probe.expanded)
        # Parsing the expression is half the cost of a step: every step reuses this one.
        self._parsed = probe

    def _iterator(self, naive: datetime) -> Any:
        ticks = copy.copy(self._parsed)
        ticks.set_current(naive, force=True)
        return ticks

    def next(self, current: datetime) -> datetime:
        """The first tick strictly after `current`."""
        try:
            return self._next(current)
        except (OverflowError, ValueError) as exc:
            raise self._out_of_range("after", current) from exc

    def prev(self, current: datetime) -> datetime:
        """The last tick strictly before `current`."""
        try:
            return self._prev(current)
        except (OverflowError, ValueError) as exc:
            raise self._out_of_range("before", current) from exc

    def _out_of_range(self, direction: str, current: datetime) -> ScheduleError:
        # croniter and datetime arithmetic fail past year 1 or 9999 (OverflowError, or
        # ValueError "year 10000 is out of range"): the tick would not be a datetime.
        return ScheduleError(
            f"date out of range: cron expression {self.text!r} has no tick {direction}"
            f" {current.isoformat()} that a datetime can hold (years 1 to 9999)"
        )

    def _next(self, current: datetime) -> datetime:
        naive = to_wall_clock(current, self.timezone)
        ticks = self._iterator(naive)
        scheduled = self._step(ticks, forward=True)
        if self.fires_every_hour and scheduled - naive <= _ONE_HOUR:
            return current + (scheduled - naive)
        result = from_wall_clock(scheduled, self.timezone)
        # A skipped wall time maps to a later instant than its naive neighbours, which
        # can land on or before `current`; Airflow would return it, a zero-length step.
        while result <= current:
            result = from_wall_clock(self._step(ticks, forward=True), self.timezone)
        return result

    def _prev(self, current: datetime) -> datetime:
        naive = to_wall_clock(current, self.timezone)
        ticks = self._iterator(naive)
        scheduled = self._step(ticks, forward=False)
        if self.fires_every_hour and naive - scheduled <= _ONE_HOUR:
            return current - (naive - scheduled)
        result = from_wall_clock(scheduled, self.timezone)
        while result >= current:  # see next(): never return `current` itself
            result = from_wall_clock(self._step(ticks, forward=False), self.timezone)
        return result

    def _step(self, ticks: Any, *, forward: bool) -> datetime:
        try:
            value = ticks.get_next(datetime) if forward else ticks.get_prev(datetime)
        except CroniterBadDateError as exc:
            direction = "after" if forward else "before"
            raise ScheduleError(
                f"cron expression {self.text!r} has no tick {direction} this date"
            ) from exc
        assert isinstance(value, datetime)
        return value

    def align_to_next(self, current: datetime) -> datetime:
        """`current` if it is a tick, else the next tick."""
        following = self.next(current)
        return current if self.prev(following) == current else following

    def align_to_prev(self, current: datetime) -> datetime:
        """`current` if it is a tick, else the previous tick."""
        preceding = self.prev(current)
        return current if self.next(preceding) == current else preceding


class CronExpressionMixin:
    """What every cron-based timetable says about its expression."""

    _cron: CronSchedule

    @property
    def summary(self) -> str:
        """The expression as written, preset names kept (``@daily``)."""
        return self._cron.text

    @property
    def expression(self) -> str:
        """The five-field cron, presets expanded."""
        return self._cron.expression

    @property
    def timezone(self) -> tzinfo:
        """The timezone the expression is read in."""
        return self._cron.timezone


def _field_problem(expression: str) -> str | None:
    """Which field of a cron croniter refused is wrong, such as "hour 25 is out of range 0-23".

    None when no field is plainly wrong: the caller then shows croniter's own message.
    """
    fields = expression.split()
    if expression.startswith("@"):
        return f"unknown preset; the presets are {', '.join(CRON_PRESETS)}"
    if len(fields) not in (5, 6, 7):
        return f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
    for (name, low, high), text in zip(_FIELDS, fields, strict=False):
        for item in text.split(","):
            span, _, step = item.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                return f"{name} step {step!r} is not a positive number"
            for value in span.split("-"):
                if value.isdigit() and not low <= int(value) <= high:
                    return f"{name} {int(value)} is out of range {low}-{high}"
    return None
