"""Dates typed into the list pages' filter forms (``YYYY-MM-DD``, read as UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


def parse_day(text: str | None, *, end: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` (or ISO date and time) filter as a UTC datetime: the day's start,
    or its last microsecond when ``end``; None when blank. ValueError says what is wrong."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
            return moment + timedelta(days=1, microseconds=-1) if end else moment
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date; use YYYY-MM-DD") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def day_filter(
    text: str | None, errors: dict[str, str], name: str, *, end: bool = False
) -> datetime | None:
    """``parse_day``, with a bad value noted in ``errors`` under ``name`` (it then filters
    nothing, and the page shows the message next to the field)."""
    try:
        return parse_day(text, end=end)
    except ValueError as exc:
        errors[name] = str(exc)
        return None
