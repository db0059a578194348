"""Timezones for timetables: parsing, naming, and wall-clock conversions across DST."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sluice.core.errors import ScheduleError

__all__ = [
    "UTC",
    "ensure_utc",
    "from_wall_clock",
    "parse_timezone",
    "timezone_name",
    "to_wall_clock",
]

_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})(?::(\d{2}))?$")


def parse_timezone(value: str | tzinfo) -> tzinfo:
    """Return the tzinfo a timetable computes in, from an IANA name, an offset or a tzinfo."""
    if isinstance(value, str):
        return _zone_from_name(value)
    if isinstance(value, ZoneInfo):
        # pendulum 3 timezones subclass ZoneInfo; a plain ZoneInfo keeps arithmetic stdlib-only.
        if value.key is None:
            raise ScheduleError(f"timezone {value!r} has no IANA name; pass a name instead")
        return _zone_from_name(value.key)
    if isinstance(value, timezone):
        return UTC if value.utcoffset(None) == timedelta(0) else value
    if not isinstance(value, tzinfo):
        raise ScheduleError(f"invalid timezone {value!r}: expected a name or a tzinfo")
    # pytz zones carry their name in `zone`; other libraries sometimes in `key` or `name`.
    for attribute in ("zone", "key", "name"):
        name = getattr(value, attribute, None)
        if isinstance(name, str):
            return _zone_from_name(name)
    offset = value.utcoffset(None)
    if offset is not None:
        # A fixed-offset tzinfo (e.g. pendulum.FixedTimezone) answers without a datetime.
        return UTC if offset == timedelta(0) else timezone(offset)
    raise ScheduleError(
        f"unsupported timezone {value!r}: pass an IANA name such as 'Europe/Paris' or a ZoneInfo"
    )


def timezone_name(tz: tzinfo) -> str:
    """Return the name that `parse_timezone` reads back into the same timezone."""
    if isinstance(tz, ZoneInfo) and tz.key is not None:
        return tz.key
    offset = tz.utcoffset(None)
    if offset is None:
        raise ScheduleError(f"timezone {tz!r} has no name")
    if offset == timedelta(0):
        return "UTC"
    sign = "-" if offset < timedelta(0) else "+"
    minutes, seconds = divmod(int(abs(offset).total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}"
    return f"{text}:{seconds:02d}" if seconds else text


def _zone_from_name(name: str) -> tzinfo:
    if name.upper() in ("UTC", "Z", "ETC/UTC"):
        return UTC
    match = _OFFSET.match(name)
    if match:
        sign, hours, minutes, seconds = match.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0))
        if offset >= timedelta(hours=24):
            raise ScheduleError(f"invalid timezone {name!r}: offset out of range")
        return UTC if not offset else timezone(-offset if sign == "-" else offset)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"unknown timezone {name!r}") from exc


def ensure_utc(value: object, what: str) -> datetime:
    """Return an aware datetime as a plain ``datetime`` in UTC; naive or non-datetimes fail."""
    if not isinstance(value, datetime):
        raise ScheduleError(f"{what} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ScheduleError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        raise ScheduleError(
            f"date out of range: {what} {value.isoformat()} is before year 1 or after 9999 in UTC"
        ) from None
    # Rebuild so that pendulum DateTimes and other subclasses never leak out.
    return datetime(
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
        tzinfo=UTC,
    )


def to_wall_clock(moment: datetime, tz: tzinfo) -> datetime:
    """Return the naive local time that a clock in `tz` shows at the UTC instant `moment`."""
    return moment.astimezone(tz).replace(tzinfo=None, fold=0)


def from_wall_clock(naive: datetime, tz: tzinfo) -> datetime:
    """Return the UTC instant of a local wall-clock time, resolving DST as Airflow does.

    A time repeated when clocks go back is read as its second occurrence; a time skipped
    when clocks go forward is read with the offset in force before the jump (02:30 on a
    spring-forward night in Paris becomes 03:30 CEST). Airflow gets both from pendulum's
    ``Timezone.convert`` on a ``fold=1`` datetime.
    """
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    first_offset, second_offset = first.utcoffset(), second.utcoffset()
    assert first_offset is not None and second_offset is not None
    # Repeated hour: the later one. Skipped hour: fold=0 keeps the offset before the jump.
    chosen = second if first_offset > second_offset else first
    return chosen.astimezone(UTC)
