"""The datetimes a task's context holds: ISO text in templates, pendulum's common helpers.

Airflow puts pendulum DateTimes in the context, so ``{{ data_interval_start }}`` renders
``2024-03-01T00:00:00+00:00`` (one word on a command line) and templates call
``.add(days=1)`` or ``.in_timezone("Europe/Paris")``. Sluice does not depend on pendulum;
this subclass of ``datetime`` behaves the same way for those uses.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, tzinfo
from typing import Any, overload
from zoneinfo import ZoneInfo


class ContextDateTime(datetime):
    """A timezone-aware datetime that prints as ISO 8601, with pendulum-style helpers."""

    def __str__(self) -> str:
        return self.isoformat()

    def add(
        self,
        *,
        years: int = 0,
        months: int = 0,
        weeks: float = 0,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
    ) -> ContextDateTime:
        """A later datetime; months and years keep the day, clamped to the month's end."""
        moved = self
        if years or months:
            total = self.year * 12 + (self.month - 1) + years * 12 + months
            year, month = divmod(total, 12)
            day = min(self.day, calendar.monthrange(year, month + 1)[1])
            moved = self.replace(year=year, month=month + 1, day=day)
        step = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
        return as_context_datetime(moved + step)

    def subtract(self, **amounts: Any) -> ContextDateTime:
        """An earlier datetime: ``add`` with every amount negated."""
        return self.add(**{unit: -value for unit, value in amounts.items()})

    def in_timezone(self, tz: str | tzinfo) -> ContextDateTime:
        """The same instant on another timezone's clock."""
        zone = ZoneInfo(tz) if isinstance(tz, str) else tz
        return as_context_datetime(self.astimezone(zone))

    in_tz = in_timezone

    def to_date_string(self) -> str:
        """``2024-03-01``."""
        return self.strftime("%Y-%m-%d")

    def to_datetime_string(self) -> str:
        """``2024-03-01 06:30:00``."""
        return self.strftime("%Y-%m-%d %H:%M:%S")

    def to_iso8601_string(self) -> str:
        """``2024-03-01T06:30:00+00:00``."""
        return self.isoformat()


@overload
def as_context_datetime(value: datetime) -> ContextDateTime: ...
@overload
def as_context_datetime(value: None) -> None: ...
def as_context_datetime(value: datetime | None) -> ContextDateTime | None:
    """``value`` as a ContextDateTime (None stays None)."""
    if value is None or isinstance(value, ContextDateTime):
        return value
    return ContextDateTime(
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond, tzinfo=value.tzinfo, fold=value.fold,
    )  # fmt: skip
