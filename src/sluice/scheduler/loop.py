"""The scheduler's loop: event-driven, with timers only for what is truly time-based.

Each pass applies the executor's events (and beats the job's heartbeat when due), decides
the runs flagged ``needs_scheduling`` and queues what fits, then runs what is due (run
creation, backfills, starting queued runs, dagrun timeouts, retries whose delay is over,
recovery), decides and queues again if that ran, and waits in ``executor.events(timeout)``.
That wait returns the moment a task's process ends, so the next task is queued at once;
``timeout`` is only the time until the next timer. No fixed sleep sits between one task's
end and the next one's start, and no timed work either.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

from sluice.config import Settings
from sluice.core.errors import TransitionError
from sluice.core.messages import CallbackWorkload, TaskEvent, TaskWorkload
from sluice.executors.base import Executor
from sluice.scheduler.active_runs import start_queued_runs, time_out_runs
from sluice.scheduler.backfills import BackfillRunner
from sluice.scheduler.dispatch import decide_runs
from sluice.scheduler.queueing import PoolWarnings, queue_scheduled
from sluice.scheduler.recovery import apply_events, recover
from sluice.scheduler.runs import create_due_runs
from sluice.scheduler.serialized_dags import SerializedDagCache
from sluice.store import cleanup, jobs, transitions
from sluice.store.dag_runs import (
    flag_for_scheduling,
    lock_runs_to_schedule,
    next_creation_at,
    next_running_run,
    scheduling_done,
)
from sluice.store.engine import Store
from sluice.store.task_instances import due_to_retry, next_retry_at

log = logging.getLogger("sluice.scheduler")

T = TypeVar("T")

HOUSEKEEPING_INTERVAL = 1.0
"""Seconds between two looks at what others may have changed: new or unpaused DAGs,
triggered runs, backfill requests. Finished tasks do not wait for it."""
MAX_WAIT = 5.0
"""The longest the loop waits for an event."""
RUNS_PER_PASS = 100
"""Runs decided per transaction; more wait for the next pass, which comes at once."""
RECOVERY_INTERVAL = 10.0
CLEANUP_INTERVAL = 24 * 60 * 60.0
DB_RETRY_MAX = 30.0
"""The longest wait between two tries while the database cannot be reached."""


@dataclass
class _Timers:
    """Monotonic times at which timed work is next due."""

    housekeeping: float = 0.0
    heartbeat: float = 0.0
    recovery: float = 0.0
    cleanup: float = 0.0
    more_work: bool = False

    def wait(self, now: float) -> float:
        if self.more_work:
            return 0.0
        due = min(self.housekeeping, self.heartbeat, self.recovery, self.cleanup)
        return max(0.0, min(MAX_WAIT, due - now))


@dataclass
class _Pass:
    """What one pass hands to the executor once its transaction committed."""

    workloads: list[TaskWorkload] = field(default_factory=list)
    callbacks: list[CallbackWorkload] = field(default_factory=list)
    more: bool = False
    """More flagged runs than one pass decides: the next pass comes at once."""


class SchedulerJob:
    """One scheduler: a job row with a heartbeat, and the loop around an executor."""

    def __init__(
        self, settings: Settings, store: Store, executor: Executor, *, hostname: str | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.executor = executor
        self.hostname = hostname or socket.gethostname()
        self.job_id: int | None = None
        self.parallelism = settings.get_int("core", "parallelism")
        self.heartbeat_interval = settings.get_float("scheduler", "job_heartbeat_interval")
        self.job_timeout = settings.get_float("scheduler", "job_heartbeat_timeout")
        self.task_timeout = settings.get_float("scheduler", "task_heartbeat_timeout")
        self.retention_days = settings.get_int("database", "retention_days")
        self.dags = SerializedDagCache()
        self.backfills = BackfillRunner()
        self.pool_warnings = PoolWarnings()
        self.timers = _Timers()
        self.declared_dead = False
        self._events: list[TaskEvent] = []
        self._undecided_warned: set[tuple[str, str]] = set()
        """Set when another scheduler took this one's work over: the loop must stop."""
        self._db_failures = 0

    # -- the loop --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Schedule until ``stop`` is set; then let running tasks finish and end the job."""
        if not self.start(stop):
            return
        try:
            while not stop.is_set() and not self.declared_dead:
                self.step(stop)
        finally:
            self.shutdown()

    def start(self, stop: threading.Event | None = None) -> bool:
        """Register the job (retrying while the database is away) and start the executor."""
        self.job_id = self._with_db_retry(stop or threading.Event(), self._register)
        if self.job_id is None:
            return False
        log.info("scheduler job %d started (pid %d on %s)", self.job_id, os.getpid(),
                 self.hostname)  # fmt: skip
        try:
            self.executor.start()
        except BaseException:
            self._end_job()
            raise
        return True

    def step(self, stop: threading.Event | None = None) -> None:
        """One pass, then the wait for the next event or timer."""
        try:
            self.run_pass(self._events)
            self._db_failures = 0
        except (OperationalError, DBAPIError) as exc:
            self._db_trouble(stop or threading.Event(), exc)
        except TransitionError as exc:
            # Someone else (another scheduler, a person) moved a row this pass read: its
            # transaction rolled back, and the next pass decides again from what is there.
            log.warning("%s; deciding again", exc)
            self.timers.more_work = True
        self._events = self.executor.events(self.timers.wait(time.monotonic()))

    def run_pass(self, events: list[TaskEvent]) -> None:
        """One pass of the loop, without the wait (tests drive it directly)."""
        assert self.job_id is not None
        clock = time.monotonic()
        now = transitions.now()
        callbacks: list[CallbackWorkload] = []
        if events:
            with self.store.transaction() as session:
                failed = apply_events(
                    session, self.dags, events, job_id=self.job_id, callbacks=callbacks
                )
            events.clear()
            if failed:
                # A retry may be due at once (retry_delay 0): look now, not in a second.
                self.timers.housekeeping = 0.0
        if clock >= self.timers.heartbeat:
            # First: the job's liveness must not depend on the rest of the pass succeeding.
            self._heartbeat(clock)
        # Then the hot path: what a finished task made ready is queued before timed work.
        more = self._queue_ready(callbacks)
        timed = False
        if clock >= self.timers.recovery:
            self._recover(clock, now)
            timed = True
        if clock >= self.timers.cleanup:
            self._cleanup(clock, now)
        if clock >= self.timers.housekeeping:
            callbacks.extend(self._housekeeping(clock, now))
            timed = True
        if timed:
            # New, started, retried or requeued work: decided and queued in this pass too.
            more = self._queue_ready(callbacks) or more
        self.timers.more_work = more
        for callback in callbacks:
            self.executor.run_callback(callback)

    def _queue_ready(self, callbacks: list[CallbackWorkload]) -> bool:
        """Decide and queue, hand the workloads to the executor and keep the callbacks for
        after; True when more runs wait to be decided than one transaction takes."""
        handed = self._decide_and_queue()
        for workload in handed.workloads:
            self.executor.queue(workload)
        callbacks.extend(handed.callbacks)
        return handed.more

    # -- the hot path ----------------------------------------------------------------------

    def _decide_and_queue(self) -> _Pass:
        """Decide flagged runs and queue what fits, in one transaction; nothing is handed to
        the executor before it commits (the runner starts from the committed queued row)."""
        handed = _Pass()
        wake: list[int] = []
        free = min(self.executor.slots, self.parallelism) - self.executor.running()
        with self.store.transaction() as session:
            runs = lock_runs_to_schedule(session, limit=RUNS_PER_PASS)
            decided = decide_runs(session, self.dags, runs)
            handed.callbacks = decided.callbacks
            locked = {run.id for run in runs if run not in decided.finished}
            if free > 0:
                handed.workloads = queue_scheduled(
                    session,
                    self.dags,
                    locked,
                    free_slots=free,
                    job_id=self.job_id,
                    warnings=self.pool_warnings,
                    known=decided.dags,
                )
            waiting = {run.id for run in decided.undecided}
            scheduling_done(session, [run.id for run in runs if run.id not in waiting])
            for run in decided.wake_next:
                later = next_running_run(session, run)
                if later is not None:
                    wake.append(later.id)
        if wake:
            with self.store.transaction() as session:
                flag_for_scheduling(session, wake)
        for run in decided.undecided:
            if (run.dag_id, run.run_id) not in self._undecided_warned:
                self._undecided_warned.add((run.dag_id, run.run_id))
                log.warning(
                    "run %s waits: DAG '%s' has no readable serialized form (see `sluice dags "
                    "report`)", run.run_id, run.dag_id
                )  # fmt: skip
        handed.more = len(runs) >= RUNS_PER_PASS and len(decided.undecided) < len(runs)
        if decided.finished:
            # A finished run may let a queued one start (max_active_runs): look now.
            self.timers.housekeeping = 0.0
        return handed

    # -- timers ----------------------------------------------------------------------------

    def _housekeeping(self, clock: float, now: datetime) -> list[CallbackWorkload]:
        """Create due runs, carry on backfills, start queued runs, time out and retry."""
        with self.store.transaction() as session:
            created = create_due_runs(session, self.dags, now, job_id=self.job_id)
            created += self.backfills.advance(session, self.dags, now, job_id=self.job_id)
            start_queued_runs(session, self.dags)
            timeouts = time_out_runs(session, self.dags, now)
            due = due_to_retry(session, now)
            retry = [ti.id for ti in due if ti.state == "up_for_retry"]
            transitions.mark_scheduled(session, retry)
            transitions.reschedule_due(session, [ti.id for ti in due if ti.id not in retry])
            upcoming = [
                t
                for t in (next_creation_at(session), next_retry_at(session), timeouts.next_at)
                if t is not None and t > now
            ]
        for run in created:
            log.info("created run %s of DAG '%s'", run.run_id, run.dag_id)
        wait = HOUSEKEEPING_INTERVAL
        if upcoming:
            wait = min(wait, (min(upcoming) - now).total_seconds())
        self.timers.housekeeping = clock + max(0.0, wait)
        return timeouts.callbacks

    def _heartbeat(self, clock: float) -> None:
        assert self.job_id is not None
        with self.store.transaction() as session:
            alive = jobs.heartbeat_job(session, self.job_id)
        if not alive:
            # Another scheduler declared this one dead and took over its queued work.
            log.error("scheduler job %d was declared dead by another scheduler; stopping",
                      self.job_id)  # fmt: skip
            self.declared_dead = True
        self.timers.heartbeat = clock + self.heartbeat_interval

    def _recover(self, clock: float, now: datetime) -> None:
        assert self.job_id is not None
        with self.store.transaction() as session:
            done = recover(
                session,
                self.dags,
                job_id=self.job_id,
                hostname=self.hostname,
                now=now,
                job_timeout=self.job_timeout,
                task_timeout=self.task_timeout,
            )
        for callback in done.callbacks:
            self.executor.run_callback(callback)
        if done.requeued or done.failed:
            log.warning(
                "recovery: %d queued instances of dead schedulers requeued, %d silent tries "
                "failed", done.requeued, done.failed
            )  # fmt: skip
        self.timers.recovery = clock + min(RECOVERY_INTERVAL, self.job_timeout / 2)

    def _cleanup(self, clock: float, now: datetime) -> None:
        self.timers.cleanup = clock + CLEANUP_INTERVAL
        if self.retention_days <= 0:
            return
        cut = now - timedelta(days=self.retention_days)
        result = cleanup.clean(self.store, cut, log_folder=self.settings.base_log_folder)
        log.info("deleted history older than %s: %s", cut.isoformat(), result.as_dict())

    # -- start, stop and trouble -----------------------------------------------------------

    def _register(self) -> int:
        with self.store.transaction() as session:
            return jobs.register_job(session, jobs.SCHEDULER, self.hostname, os.getpid())

    def _with_db_retry(self, stop: threading.Event, action: Callable[[], T]) -> T | None:
        while not stop.is_set():
            try:
                return action()
            except (OperationalError, DBAPIError) as exc:
                self._db_trouble(stop, exc)
        return None

    def _db_trouble(self, stop: threading.Event, exc: Exception) -> None:
        """Back off while the database is away (or a deadlock was broken); then go on."""
        self._db_failures += 1
        delay = min(DB_RETRY_MAX, 0.1 * 2 ** min(self._db_failures, 10))
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        log.warning("database error (%s); retrying in %.1f s", reason, delay)
        stop.wait(delay)

    def shutdown(self) -> None:
        """Let running tasks finish (a second Ctrl-C kills them), apply their events, end."""
        try:
            self.executor.end()
        except KeyboardInterrupt:
            log.warning("interrupted again: killing running tasks")
            self.executor.terminate()
        events = [*self._events, *self.executor.events(0)]
        self._events = []
        try:
            if events and self.job_id is not None:
                with self.store.transaction() as session:
                    apply_events(session, self.dags, events, job_id=self.job_id)
        except (OperationalError, DBAPIError) as exc:
            log.warning("could not apply the last executor events: %s", exc)
        self._end_job()
        log.info("scheduler job %s stopped", self.job_id)

    def _end_job(self) -> None:
        if self.job_id is None:
            return
        try:
            with self.store.transaction() as session:
                jobs.end_job(session, self.job_id)
        except (OperationalError, DBAPIError) as exc:
            log.warning("could not record the scheduler's end: %s", exc)
