"""Timetables without a period: None, ``@once`` and ``@continuous``."""

from __future__ import annotations

from datetime import datetime

from sluice.sdk.timetables.base import (
    DagRunInfo,
    DataInterval,
    TimeRestriction,
    Timetable,
    current_time,
    interval_in_utc,
    restriction_in_utc,
)
from sluice.sdk.timetables.zones import ensure_utc


class _TrivialTimetable(Timetable):
    """Shared parts: no parameters, manual runs get an empty interval at their time."""

    periodic = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """An empty interval at `run_after`."""
        return DataInterval.exact(ensure_utc(run_after, "run_after"))


class NullTimetable(_TrivialTimetable):
    """Never schedules a run (``schedule=None``); runs are triggered by hand."""

    can_be_scheduled = False
    description = "Never, external triggers only"

    @property
    def summary(self) -> str:
        """Always ``None``."""
        return "None"

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """Always None."""
        return None


class OnceTimetable(_TrivialTimetable):
    """One run at start_date, whatever catchup says (``schedule="@once"``)."""

    description = "Once, as soon as possible"

    @property
    def summary(self) -> str:
        """Always ``@once``."""
        return "@once"

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """The single run at start_date (or now without one); None once it exists."""
        if last_automated_data_interval is not None:
            return None
        restriction = restriction_in_utc(restriction)
        run_after = restriction.earliest or current_time(now)
        if restriction.latest is not None and run_after > restriction.latest:
            return None
        return DagRunInfo.exact(run_after)


class ContinuousTimetable(_TrivialTimetable):
    """A new run as soon as the previous one ends, one at a time (``"@continuous"``)."""

    description = "As frequently as possible, but only one run at a time."
    active_runs_limit = 1

    @property
    def summary(self) -> str:
        """Always ``@continuous``."""
        return "@continuous"

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """A run covering the time since the last one ended, up to now."""
        last = interval_in_utc(last_automated_data_interval)
        restriction = restriction_in_utc(restriction)
        moment = current_time(now)
        start_date = restriction.earliest or moment
        if last is None:
            start, end = start_date, max(start_date, moment)
        elif last.end > moment:  # the last run ended in the future: start_date moved
            start, end = start_date, start_date + (last.end - last.start)
        else:
            start, end = last.end, moment
        if restriction.latest is not None and end > restriction.latest:
            return None
        return DagRunInfo.interval(start, end)
