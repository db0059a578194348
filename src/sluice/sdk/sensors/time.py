"""Sensors that wait for a moment: TimeDeltaSensor, DateTimeSensor and TimeSensor.

Each compares the clock with a moment once per poke; none reads the database. As in
Airflow, "done" means the clock is strictly past the moment.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from sluice.core.errors import DagDefinitionError
from sluice.sdk.operator import BaseOperator, Context, task_where
from sluice.sdk.sensors.base import BaseSensorOperator
from sluice.sdk.templating import is_template
from sluice.sdk.timetables.zones import from_wall_clock

log = logging.getLogger("sluice.task")


def dag_timezone(task: BaseOperator) -> tzinfo:
    """The timezone of the task's DAG: the one a naive date or time is read in."""
    return task.dag.timezone if task.dag is not None else UTC


def to_moment(value: object, zone: tzinfo, what: str) -> datetime:
    """An aware UTC datetime from a datetime or ISO 8601 text; a naive one is read on the
    clock of ``zone``. ValueError saying ``what`` was wrong otherwise."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{what} {value!r} is not an ISO 8601 date and time") from None
    if not isinstance(value, datetime):
        raise ValueError(f"{what} must be a datetime or ISO 8601 text, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        return from_wall_clock(value, zone)
    return value.astimezone(UTC)


def check_moment(where: str, name: str, value: Any, *, deferred: bool = False) -> Any:
    """A datetime or ISO 8601 text argument, checked now when it is plain text (a template
    only once rendered); ``deferred``: a value known at run time only is accepted too."""
    if not (deferred or isinstance(value, str | datetime)):
        raise DagDefinitionError(
            f"{where}: {name} must be a datetime or ISO 8601 text, got {value!r}"
        )
    if isinstance(value, str) and not is_template(value):
        try:
            to_moment(value, UTC, name)
        except ValueError as exc:
            raise DagDefinitionError(f"{where}: {exc}") from None
    return value


def _now() -> datetime:
    return datetime.now(UTC)


class TimeDeltaSensor(BaseSensorOperator):
    """Waits until ``delta`` has passed since the end of the run's data interval.

    With a daily schedule and ``delta=timedelta(hours=2)``, the run for Monday (whose
    interval ends on Tuesday at 00:00) waits until Tuesday 02:00.
    """

    def __init__(self, *, delta: timedelta, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(delta, timedelta):
            raise DagDefinitionError(
                f"{task_where(self)}: delta must be a timedelta, got {delta!r}"
            )
        self.delta = delta

    def poke(self, context: Context) -> bool:
        """Whether the clock is past the data interval's end plus ``delta``."""
        base = context.get("data_interval_end")
        if not isinstance(base, datetime):
            # A run without a data interval (Airflow 3's asset-triggered runs) counts from
            # its logical date.
            base = context["logical_date"]
        target = base + self.delta
        log.info("Checking if the delta has elapsed: base_time=%s, delta=%s", base, self.delta)
        return _now() > target


class DateTimeSensor(BaseSensorOperator):
    """Waits until ``target_time`` (a datetime, or ISO 8601 text; templated).

    Unlike TimeDeltaSensor it is idempotent: a backfilled run whose target time has long
    passed does not wait. A naive target is read in the DAG's timezone.
    """

    template_fields = ("target_time",)

    def __init__(self, *, target_time: str | datetime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_time = check_moment(task_where(self), "target_time", target_time)

    @property
    def moment(self) -> datetime:
        """The target as an aware UTC datetime (after rendering)."""
        try:
            return to_moment(self.target_time, dag_timezone(self), "target_time")
        except ValueError as exc:
            raise ValueError(f"{task_where(self)}: {exc}") from None

    def poke(self, context: Context) -> bool:
        """Whether the clock is past the target."""
        moment = self.moment
        log.info("Checking if the time (%s) has come", moment.isoformat())
        return _now() > moment


class TimeSensor(BaseSensorOperator):
    """Waits until the time of day ``target_time`` (a naive ``datetime.time``) on the clock
    of the DAG's timezone, on the day the sensor pokes."""

    def __init__(self, *, target_time: time, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        if not isinstance(target_time, time):
            raise DagDefinitionError(
                f"{where}: target_time must be a datetime.time, got {target_time!r}"
            )
        if target_time.tzinfo is not None:
            raise DagDefinitionError(
                f"{where}: target_time must be a naive time (it is read in the DAG's "
                f"timezone), got {target_time!r}"
            )
        self.target_time = target_time

    def poke(self, context: Context) -> bool:
        """Whether the time of day in the DAG's timezone is past the target."""
        log.info("Checking if the time (%s) has come", self.target_time)
        return _now().astimezone(dag_timezone(self)).time() > self.target_time
