"""The ``macros`` namespace of the template context, as Airflow's ``airflow.macros``."""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import date, datetime, timedelta
from types import SimpleNamespace


def ds_add(ds: str, days: int) -> str:
    """``ds_add('2015-01-01', 5)`` is ``'2015-01-06'``; days may be negative."""
    if not days:
        return str(ds)
    return (date.fromisoformat(ds) + timedelta(days=days)).isoformat()


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """``ds_format('2015-01-01', '%Y-%m-%d', '%m-%d-%y')`` is ``'01-01-15'``."""
    return datetime.strptime(str(ds), input_format).strftime(output_format)


def datetime_diff_for_humans(dt: datetime, since: datetime | None = None) -> str:
    """A rough 'in 3 hours' / '2 days ago' between ``dt`` and ``since`` (default now)."""
    since = since or datetime.now(dt.tzinfo)
    seconds = (dt - since).total_seconds()
    amount = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if amount >= size or unit == "second":
            count = int(amount // size)
            text = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"in {text}" if seconds > 0 else f"{text} ago"
    raise AssertionError("unreachable")


def make_macros() -> SimpleNamespace:
    """A fresh namespace, so that a template cannot change another task's macros."""
    return SimpleNamespace(
        ds_add=ds_add,
        ds_format=ds_format,
        datetime_diff_for_humans=datetime_diff_for_humans,
        datetime=datetime,
        timedelta=timedelta,
        date=date,
        time=time,
        uuid=uuid,
        random=random,
        json=json,
    )
