"""Plain-English descriptions of common cron expressions, for the UI."""

from __future__ import annotations

import re
from datetime import timedelta

_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_DAY_NAMES = {name[:3].upper(): index for index, name in enumerate(_DAYS)}
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONTH_NAMES = {name[:3].upper(): index + 1 for index, name in enumerate(_MONTHS)}
_NUMBER = re.compile(r"^\d+$")
_STEP = re.compile(r"^\*/(\d+)$")
_RANGE = re.compile(r"^(\w+)-(\w+)$")


class _Unsupported(Exception):
    """Raised when a field is beyond what this module puts into words."""


def describe_cron(expression: str) -> str:
    """Describe a five-field cron in words (``At 02:00, only on Monday``), else return it."""
    fields = expression.split()
    if len(fields) != 5:
        return expression
    try:
        return _describe(*fields)
    except _Unsupported:
        return expression


def describe_delta(delta: timedelta) -> str:
    """Describe a fixed interval in words, e.g. ``Every 1 hour, 30 minutes``."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return "Every " + ", ".join(parts) if parts else str(delta)


def _describe(minute: str, hour: str, day: str, month: str, weekday: str) -> str:
    text = _describe_time(minute, hour)
    if day != "*" and weekday != "*":
        # cron fires when either day field matches; say so rather than mislead.
        text += f", {_describe_day(day)} (or) {_describe_weekday(weekday)}"
    elif day != "*":
        text += ", " + _describe_day(day)
    elif weekday != "*":
        text += ", " + _describe_weekday(weekday)
    if month != "*":
        text += ", " + _describe_month(month)
    return text


def _describe_time(minute: str, hour: str) -> str:
    if _NUMBER.match(minute) and _NUMBER.match(hour):
        return f"At {_clock(hour, minute)}"
    if _NUMBER.match(minute) and "," in hour and all(_NUMBER.match(h) for h in hour.split(",")):
        return "At " + _join([_clock(h, minute) for h in hour.split(",")])
    if minute == "*" and hour == "*":
        return "Every minute"
    if (step := _STEP.match(minute)) and hour == "*":
        return f"Every {step.group(1)} minutes"
    if _NUMBER.match(minute):
        past = f"At {int(minute)} minutes past the hour"
        if hour == "*":
            return past
        if step := _STEP.match(hour):
            return f"{past}, every {step.group(1)} hours"
        if span := _RANGE.match(hour):
            first, last = span.groups()
            return f"{past}, between {_clock(first, '0')} and {_clock(last, '59')}"
    raise _Unsupported


def _describe_day(day: str) -> str:
    if day.upper() == "L":
        return "on the last day of the month"
    if _NUMBER.match(day):
        return f"on day {int(day)} of the month"
    if span := _RANGE.match(day):
        return f"between day {int(span.group(1))} and {int(span.group(2))} of the month"
    raise _Unsupported


def _describe_weekday(weekday: str) -> str:
    if span := _RANGE.match(weekday):
        first, last = (_DAYS[_index(v, _DAY_NAMES, 0, 7) % 7] for v in span.groups())
        return f"{first} through {last}"
    names = [_DAYS[_index(v, _DAY_NAMES, 0, 7) % 7] for v in weekday.split(",")]
    return "only on " + _join(names)


def _describe_month(month: str) -> str:
    if step := _STEP.match(month):
        return f"every {step.group(1)} months"
    if span := _RANGE.match(month):
        first, last = (_MONTHS[_index(v, _MONTH_NAMES, 1, 12) - 1] for v in span.groups())
        return f"{first} through {last}"
    names = [_MONTHS[_index(v, _MONTH_NAMES, 1, 12) - 1] for v in month.split(",")]
    return "only in " + _join(names)


def _index(value: str, names: dict[str, int], lowest: int, highest: int) -> int:
    if _NUMBER.match(value) and lowest <= int(value) <= highest:
        return int(value)
    if value.upper() in names:
        return names[value.upper()]
    raise _Unsupported


def _clock(hour: str, minute: str) -> str:
    if not (_NUMBER.match(hour) and _NUMBER.match(minute)):
        raise _Unsupported
    return f"{int(hour):02d}:{int(minute):02d}"


def _join(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]
