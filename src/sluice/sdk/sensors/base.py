"""BaseSensorOperator: poke until a condition holds, in a slot (poke) or between slots
(reschedule), with Airflow's timeout, soft_fail and exponential backoff."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sluice.core.errors import (
    DagDefinitionError,
    FailTask,
    RescheduleTask,
    SensorTimeout,
    SkipTask,
    TaskTimeout,
)
from sluice.sdk.operator import BaseOperator, Context, task_where

log = logging.getLogger("sluice.task")

DEFAULT_TIMEOUT = timedelta(days=7)
"""As Airflow's ``[sensors] default_timeout``."""
MODES = ("poke", "reschedule")


class PokeReturnValue:
    """What ``poke`` may return instead of a bool: done or not, and the XCom value to push."""

    def __init__(self, is_done: bool, xcom_value: Any = None) -> None:
        self.is_done = is_done
        self.xcom_value = xcom_value

    def __bool__(self) -> bool:
        return self.is_done

    def __repr__(self) -> str:
        return f"PokeReturnValue(is_done={self.is_done!r}, xcom_value={self.xcom_value!r})"


class BaseSensorOperator(BaseOperator):
    """Calls ``poke(context)`` until it returns True, then succeeds.

    In ``poke`` mode the sensor holds its slot and sleeps ``poke_interval`` seconds between
    pokes; in ``reschedule`` mode it gives the slot back and the scheduler runs it again
    after ``poke_interval``. Past ``timeout`` seconds since its first try started it fails
    without retries (or skips with ``soft_fail``).
    """

    ui_color = "#e6f1f2"

    def __init__(
        self,
        *,
        poke_interval: timedelta | float = 60,
        timeout: timedelta | float = DEFAULT_TIMEOUT,
        soft_fail: bool = False,
        mode: str = "poke",
        exponential_backoff: bool = False,
        max_wait: timedelta | float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.poke_interval = _seconds(self, "poke_interval", poke_interval)
        self.timeout = _seconds(self, "timeout", timeout)
        self.soft_fail = soft_fail
        if mode not in MODES:
            raise DagDefinitionError(
                f"{task_where(self)}: mode must be one of {', '.join(MODES)}, got {mode!r}"
            )
        self.mode = mode
        self.exponential_backoff = exponential_backoff
        self.max_wait: timedelta | None = None
        if max_wait is not None:
            self.max_wait = timedelta(seconds=_seconds(self, "max_wait", max_wait))

    @property
    def reschedule(self) -> bool:
        """Whether the sensor frees its slot between pokes."""
        return self.mode == "reschedule"

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Check the condition once; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement poke()")

    def execute(self, context: Context) -> Any:
        """Poke until done; the XCom value of a PokeReturnValue is the task's return value."""
        started_at: datetime | float
        if self.reschedule:
            # Measured from the first try's start, which the database keeps across
            # reschedules and retries (Airflow reads it from the first TaskReschedule).
            first = getattr(context.get("ti"), "first_try_start", None) or _now()
            started_at = first

            def run_duration() -> float:
                return (_now() - first).total_seconds()
        else:
            start = started_at = time.monotonic()

            def run_duration() -> float:
                return time.monotonic() - start

        poke_count = 1
        while True:
            done = self._poke_once(context)
            if done:
                log.info("Success criteria met. Exiting.")
                return done.xcom_value if isinstance(done, PokeReturnValue) else None
            if run_duration() > self.timeout:
                message = (
                    f"sensor '{self.task_id}' timed out: it has waited {run_duration():.0f} s, "
                    f"over its timeout of {self.timeout:g} s"
                )
                if self.soft_fail:
                    raise SkipTask(f"{message}; skipping (soft_fail)")
                raise SensorTimeout(message)
            interval = self._get_next_poke_interval(started_at, run_duration, poke_count)
            if self.reschedule:
                raise RescheduleTask(_now() + timedelta(seconds=interval))
            time.sleep(interval)
            poke_count += 1

    def _poke_once(self, context: Context) -> bool | PokeReturnValue:
        try:
            return self.poke(context)
        except (TaskTimeout, FailTask) as exc:
            # As Airflow: a sensor that times out or fails on purpose skips with soft_fail.
            if self.soft_fail:
                raise SkipTask(f"skipping (soft_fail): {exc}") from exc
            raise

    def _get_next_poke_interval(
        self, started_at: datetime | float, run_duration: Callable[[], float], poke_count: int
    ) -> float:
        """Seconds until the next poke: ``poke_interval``, or with exponential backoff at
        least ``poke_interval * 2**(n-2)`` plus a jitter drawn from the task's identity, as
        Airflow computes it (in reschedule mode ``n`` is estimated from the time waited)."""
        if not self.exponential_backoff:
            return self.poke_interval
        if self.reschedule:
            # Each reschedule is a new process: count the pokes that fit in the time waited.
            elapsed = run_duration()
            cumulative = 0.0
            estimated = 0
            while cumulative <= elapsed:
                estimated += 1
                cumulative += self._backoff(started_at, estimated)
            poke_count = estimated or poke_count
        interval = min(self.timeout - int(run_duration()), self._backoff(started_at, poke_count))
        if self.max_wait:
            interval = min(self.max_wait.total_seconds(), interval)
        log.info("next %s in %s s", self.mode, interval)
        return max(interval, 0.0)

    def _backoff(self, started_at: datetime | float, poke_count: int) -> float:
        min_backoff = max(int(self.poke_interval * (2 ** (poke_count - 2))), 1)
        identity = f"{self.dag_id}#{self.task_id}#{started_at}#{poke_count}"
        run_hash = int(hashlib.sha1(identity.encode(), usedforsecurity=False).hexdigest(), 16)
        return float(min(min_backoff + run_hash % min_backoff, timedelta.max.total_seconds() - 1))


def _seconds(task: BaseOperator, name: str, value: object) -> float:
    return seconds_argument(task_where(task), name, value)


def seconds_argument(where: str, name: str, value: object) -> float:
    """A duration argument as seconds; DagDefinitionError for anything but a non-negative
    number or timedelta."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        seconds = -1.0
    if seconds < 0:
        raise DagDefinitionError(
            f"{where}: {name} must be a non-negative number of seconds or a timedelta, "
            f"got {value!r}"
        )
    return seconds


def _now() -> datetime:
    return datetime.now(UTC)
