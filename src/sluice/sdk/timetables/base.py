"""What every timetable shares: data intervals, run info, restrictions and the ABC."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, NamedTuple

from sluice.sdk.timetables.zones import UTC, ensure_utc


class DataInterval(NamedTuple):
    """The span of data a DAG run covers; both ends aware, in UTC."""

    start: datetime
    end: datetime

    @classmethod
    def exact(cls, at: datetime) -> DataInterval:
        """An interval holding a single instant."""
        return cls(start=at, end=at)


class TimeRestriction(NamedTuple):
    """Bounds on automated runs: start_date, end_date (both inclusive) and catchup."""

    earliest: datetime | None
    latest: datetime | None
    catchup: bool


class DagRunInfo(NamedTuple):
    """When the next run may start and which data interval it covers."""

    run_after: datetime
    data_interval: DataInterval

    @classmethod
    def exact(cls, at: datetime) -> DagRunInfo:
        """A run at one instant, with an empty data interval there."""
        return cls(run_after=at, data_interval=DataInterval.exact(at))

    @classmethod
    def interval(cls, start: datetime, end: datetime) -> DagRunInfo:
        """A run covering [start, end), created once the interval has ended."""
        return cls(run_after=end, data_interval=DataInterval(start, end))

    @property
    def logical_date(self) -> datetime:
        """The run's logical date: the data interval's start, as in Airflow."""
        return self.data_interval.start


def current_time(now: datetime | None) -> datetime:
    """Return `now` in UTC, or the wall clock when the caller gave none."""
    if now is None:
        return datetime.now(UTC)
    return ensure_utc(now, "now")


def restriction_in_utc(restriction: TimeRestriction) -> TimeRestriction:
    """Return the restriction with its bounds checked aware and moved to UTC."""
    earliest, latest = restriction.earliest, restriction.latest
    return TimeRestriction(
        None if earliest is None else ensure_utc(earliest, "start_date"),
        None if latest is None else ensure_utc(latest, "end_date"),
        bool(restriction.catchup),
    )


def interval_in_utc(interval: DataInterval | None) -> DataInterval | None:
    """Return the data interval with both ends checked aware and moved to UTC."""
    if interval is None:
        return None
    return DataInterval(
        ensure_utc(interval.start, "data_interval.start"),
        ensure_utc(interval.end, "data_interval.end"),
    )


class Timetable(ABC):
    """Decides when a DAG's automated runs happen and which data interval each covers.

    ``next_dagrun_info`` takes an optional keyword ``now`` (aware datetime): the time
    used where Airflow reads the clock (catchup=False, ``@once`` without start_date,
    ``@continuous``). The scheduler passes one ``now`` per loop; tests pass a fixed one.
    """

    description: str = ""
    """Words for the UI, e.g. ``At 02:00``."""

    periodic: bool = True
    """False for schedules that do not repeat (None, ``@once``)."""

    can_be_scheduled: bool = True
    """False only for ``schedule=None``: runs are triggered by hand or by other DAGs."""

    active_runs_limit: int | None = None
    """A cap on max_active_runs the schedule imposes (1 for ``@continuous``)."""

    @property
    def summary(self) -> str:
        """A short text for the schedule, e.g. ``0 2 * * *`` or ``@daily``."""
        return type(self).__name__

    def validate(self) -> None:  # noqa: B027 - a no-op default subclasses may override
        """Raise ScheduleError when the timetable is specified wrongly."""

    @abstractmethod
    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """The next automated run after the last scheduled or backfilled one, or None."""

    @abstractmethod
    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """The data interval of a run triggered by hand at `run_after`."""

    def serialize(self) -> dict[str, Any]:
        """A JSON-ready dict that ``timetable_from_dict`` turns back into an equal timetable."""
        return {"type": type(self).__name__}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        """Build the timetable from what ``serialize`` returned."""
        return cls()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Timetable):
            return NotImplemented
        return type(self) is type(other) and self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(sorted(self.serialize().items()))))
