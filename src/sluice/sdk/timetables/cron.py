"""Cron expressions evaluated in a timezone, with Airflow's handling of DST."""

from __future__ import annotations

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
            raise ScheduleError(f"invalid cron expression {expression!r}: {exc}") from exc
        # Airflow's "fold hour" fix: a cron that fires every hour moves by elapsed time
        # across DST, so 02:30 CEST is followed by 02:30 CET, not by 03:30 CET.
        # croniter normalises an every-hour field to ["*"].
        self.fires_every_hour = probe.expanded[1] == ["*"]
        self.field_count = len(probe.expanded)

    def _iterator(self, naive: datetime) -> Any:
        return croniter(self.expression, naive)

    def next(self, current: datetime) -> datetime:
        """The first tick strictly after `current`."""
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

    def prev(self, current: datetime) -> datetime:
        """The last tick strictly before `current`."""
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
