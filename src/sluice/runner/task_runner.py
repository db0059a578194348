"""One try of a stored task instance, start to finish: what a worker process runs.

The try is claimed with a compare-and-set (queued to running), so two runners handed the
same workload never both run it. While it runs, its log file receives everything it
writes and a thread heartbeats. Its outcome, the branch's skipped tasks and the try's row
are then written in one transaction.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from sluice.config import Settings
from sluice.core.errors import SluiceError, TaskTerminated, TransitionError
from sluice.core.messages import RunnerExit, TaskInstanceKey, TaskWorkload
from sluice.core.states import TaskInstanceState
from sluice.integrations.masking import configure_masking, mask_text, redact
from sluice.integrations.runtime import use_store
from sluice.parsing.json_values import json_safe
from sluice.runner.dag_cache import DagCache
from sluice.runner.db_context import DAG_RUN, RunRow, TryFacts, prepare_try, stored_run
from sluice.runner.execute import TryOutcome, run_try
from sluice.runner.heartbeat import Heartbeat
from sluice.runner.task_logs import capture_to_log, task_log_path
from sluice.sdk.operator import DEFAULT_RETRY_DELAY, BaseOperator
from sluice.store import task_tries, transitions
from sluice.store.engine import READ_ONLY, Store
from sluice.store.tables import DagRun, TaskInstance
from sluice.store.task_tries import TryRecord
from sluice.store.xcoms import DbXComStore, clear_xcoms, get_xcom, put_xcom

log = logging.getLogger("sluice.runner")

CLAIM_PATIENCE = 30.0
"""Seconds the runner keeps trying to claim its try while the database is unavailable."""
OUTCOME_PATIENCE = 300.0
"""Seconds it keeps trying to write the outcome: a finished try's result is worth waiting
for (after that the scheduler's heartbeat timeout sends the try into its retry path)."""

WARM_UP_DAG_ID = "sluice-warm-up"
"""The DAG id of the throwaway instance :func:`warm_up` claims (and rolls back)."""

T = TypeVar("T")

S = TaskInstanceState


@dataclass(frozen=True)
class _Claim:
    """A try this runner owns: the instance moved to running for it."""

    running: transitions.RunningTry
    facts: TryFacts
    log_path: Path
    pid: int
    try_start: datetime
    """The start its task_try row keeps (a rescheduled sensor's first poke)."""

    @property
    def ti_id(self) -> int:
        """The task instance's id."""
        return self.running.id


@dataclass
class _Result:
    """How the try went, and what it leaves besides its state."""

    outcome: TryOutcome
    task: BaseOperator | None = None
    rendered: str | None = None


def run_task_workload(
    workload: TaskWorkload, *, settings: Settings, store: Store, dags: DagCache
) -> int:
    """Run one try and write its outcome; returns a RunnerExit code.

    0 when the try ran and its outcome is written, whatever the outcome;
    ``NOT_QUEUED`` when the instance was not queued (another runner has it) and nothing
    ran; ``TAKEN_AWAY`` when the instance was cleared or marked while it ran; ``CRASHED``
    when the runner failed before writing the outcome.
    """
    key = workload.key
    configure_masking(settings)
    try:
        claim = retry_transaction(lambda: _claim(workload, settings, store), CLAIM_PATIENCE)
    except TransitionError as exc:
        log.warning("%s: try %d not started: %s", key, workload.try_number, exc)
        return RunnerExit.NOT_QUEUED
    except Exception:
        log.exception("%s: try %d not started", key, workload.try_number)
        return RunnerExit.CRASHED
    if claim is None:
        return RunnerExit.NOT_QUEUED
    try:
        with capture_to_log(claim.log_path, settings.get_str("logging", "level")):
            log.info(
                "Running %s, try %d, on %s (pid %d)",
                key,
                workload.try_number,
                socket.gethostname(),
                claim.pid,
            )
            interval = settings.get_float("scheduler", "task_heartbeat_interval")
            result = _Result(TryOutcome(S.FAILED))
            with (
                _Terminator(result) as terminator,
                Heartbeat(store, claim.ti_id, pid=claim.pid, interval=interval),
                use_store(store),  # Variable.get and {{ var }}: no query until one is read
            ):
                _execute(result, workload, claim, settings, store, dags)
                terminator.armed = False
            return _write_outcome(store, claim, result)
    except Exception:
        log.exception("%s: the runner crashed before writing the outcome", key)
        return RunnerExit.CRASHED


_TI = cast(Table, TaskInstance.__table__)
_QUEUED_TRY = (
    select(_TI.c.id.label("ti_id"), _TI.c.max_tries, _TI.c.first_try_start, DAG_RUN)
    .join(DAG_RUN, (DAG_RUN.c.dag_id == _TI.c.dag_id) & (DAG_RUN.c.run_id == _TI.c.run_id))
    .where(
        _TI.c.dag_id == bindparam("dag_id"),
        _TI.c.run_id == bindparam("run_id"),
        _TI.c.task_id == bindparam("task_id"),
        _TI.c.map_index == bindparam("map_index"),
    )
)
"""The instance and its run's row, in one statement built once (in Core, which costs less
to run than ORM): each try runs it."""


def _claim(workload: TaskWorkload, settings: Settings, store: Store) -> _Claim | None:
    """Move the instance from queued to running for this process, in one transaction."""
    path = task_log_path(settings.base_log_folder, workload.key, workload.try_number)
    with store.transaction() as session:
        return _claim_in(session, workload, path)


def _claim_in(session: Session, workload: TaskWorkload, path: Path) -> _Claim | None:
    """The claim's statements: the instance to running, its run's facts, the try's row."""
    key = workload.key
    pid = os.getpid()
    found = session.execute(
        _QUEUED_TRY,
        {"dag_id": key.dag_id, "run_id": key.run_id, "task_id": key.task_id,
         "map_index": key.map_index},
    ).first()  # fmt: skip
    if found is None:
        log.error("%s: no such task instance in the database", key)
        return None
    ti_id, max_tries, first = found.ti_id, found.max_tries, found.first_try_start
    start = transitions.TryStart(workload.try_number, socket.gethostname(), pid)
    stamp = transitions.mark_running(session, ti_id, start)
    run = stored_run(session, cast(RunRow, found))
    # The very first try of an instance (never started, never cleared) has no values
    # pushed and no try row yet: the statements that look for them are skipped.
    first_ever = first is None and workload.try_number == 1
    if not first_ever:
        # As Airflow: a new try starts without the values an earlier one pushed.
        clear_xcoms(session, run.pk, key.task_id, key.map_index)
    record = TryRecord(key, workload.try_number, stamp, start.hostname, pid, str(path))
    try_start = task_tries.record_try_start(session, record, new=first_ever)
    facts = TryFacts(key, workload.try_number, max_tries, first or stamp, run)
    running = transitions.RunningTry(ti_id, run.pk, stamp, workload.try_number, max_tries)
    return _Claim(running, facts, path, pid, try_start)


def _execute(
    result: _Result,
    workload: TaskWorkload,
    claim: _Claim,
    settings: Settings,
    store: Store,
    dags: DagCache,
) -> None:
    """Load the DAG, build the try and run it into ``result``; a failure to start is a
    failed try."""
    key = workload.key
    try:
        dag = dags.get_dag(workload.dag_file, key.dag_id)
        xcom = DbXComStore(store, key.dag_id, key.run_id, run_pk=claim.facts.run.pk)
        prepared = prepare_try(dag, claim.facts, xcom, config=settings)
    except Exception as exc:
        result.outcome = _start_failure(exc, claim.facts)
        return
    result.task = prepared.task

    def keep_rendered(task: BaseOperator) -> None:
        result.rendered = _rendered_json(task)

    result.outcome = run_try(
        prepared.task, prepared.ti, prepared.context, prepared.env, on_rendered=keep_rendered
    )


def _start_failure(exc: Exception, facts: TryFacts) -> TryOutcome:
    """A try that could not start (DAG gone, import error, bad params): failed, or retried
    while the instance has tries left."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SluiceError):
        log.error("task could not start: %s", text)
    else:
        log.error("task could not start: %s\n%s", text, traceback.format_exc().rstrip())
    state = S.UP_FOR_RETRY if facts.try_number <= facts.max_tries else S.FAILED
    return TryOutcome(state, error=text, exception=exc)


def _rendered_json(task: BaseOperator) -> str:
    """The rendered template fields as the UI shows them: secrets the task has read by
    now, and values of secret-named fields, masked."""
    fields = {
        name: redact(json_safe(getattr(task, name, None)), name) for name in task.template_fields
    }
    return json.dumps(fields)


class _Terminator:
    """While armed, a SIGTERM (the executor stopping the task) kills the task's work and
    fails the try, so that its outcome is still written; once the try is over, the runner
    finishes writing first. Only the main thread can take signals."""

    def __init__(self, result: _Result) -> None:
        self.result = result
        self.armed = True
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> _Terminator:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._stop)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.armed = False
        if self._installed:
            signal.signal(signal.SIGTERM, self._previous)

    def _stop(self, signum: int, frame: Any) -> None:
        if not self.armed:
            log.warning("SIGTERM received as the try ends: writing its outcome first")
            return
        self.armed = False
        task = self.result.task
        if task is not None:
            task.on_kill()
        name = f"task '{task.task_id}'" if task is not None else "the task"
        raise TaskTerminated(f"{name} was stopped (SIGTERM)")


def _next_try_at(result: _Result, claim: _Claim) -> datetime:
    """When a failed try may run again, by the operator's retry_delay (Airflow's formula)."""
    end = transitions.now()
    task = result.task
    if task is None:
        return end + DEFAULT_RETRY_DELAY
    info = claim.facts.run.row
    # Airflow's jitter hashes dag_id#task_id#logical_date#try_number.
    identity = f"{info.dag_id}#{task.task_id}#{info.logical_date.isoformat()}"
    delay: timedelta = task.retry_delay_after(claim.facts.try_number, identity)
    return end + delay


def _write_outcome(store: Store, claim: _Claim, result: _Result) -> int:
    """The outcome, the skipped branch and the try's row, in one transaction."""
    outcome = result.outcome
    key = claim.facts.key

    def write() -> None:
        with store.transaction() as session:
            _record_outcome(session, claim, result)

    def record_lost(reason: str) -> None:
        with store.transaction() as session:
            task_tries.record_try_end(
                session,
                key,
                claim.facts.try_number,
                state=outcome.state.value,
                end=transitions.now(),
                exit_code=RunnerExit.TAKEN_AWAY,
                error=f"outcome not written: {reason}",
                started=claim.try_start,
            )

    try:
        retry_transaction(write, OUTCOME_PATIENCE)
    except TransitionError as exc:
        log.error("the try ended as %s, but that was not written: %s", outcome.state, exc)
        reason = str(exc)
        retry_transaction(lambda: record_lost(reason), OUTCOME_PATIENCE)
        return RunnerExit.TAKEN_AWAY
    log.info("Marked %s as %s", key, outcome.state)
    return RunnerExit.OUTCOME_WRITTEN


def _record_outcome(session: Session, claim: _Claim, result: _Result) -> None:
    """The outcome's statements: the instance's state, the skipped branch, the try's row."""
    outcome = result.outcome
    _move(session, claim, result)
    if outcome.skip_downstream:
        _skip_downstream(session, claim.facts.key, outcome.skip_downstream)
    task_tries.record_try_end(
        session,
        claim.facts.key,
        claim.facts.try_number,
        state=outcome.state.value,
        end=transitions.now(),
        exit_code=RunnerExit.OUTCOME_WRITTEN,
        error=mask_text(outcome.error) if outcome.error else None,
        started=claim.try_start,
    )


def _move(session: Session, claim: _Claim, result: _Result) -> None:
    ti, rendered = claim.running, result.rendered
    state = result.outcome.state
    if state is S.SUCCESS:
        transitions.mark_success(session, ti, rendered_fields=rendered)
    elif state is S.SKIPPED:
        transitions.mark_task_skipped(session, ti, rendered_fields=rendered)
    elif state is S.UP_FOR_RETRY:
        next_try_at = _next_try_at(result, claim)
        log.info("retry %d of %d at %s", ti.try_number, ti.max_tries, next_try_at.isoformat())
        transitions.schedule_retry(session, ti, next_try_at=next_try_at, rendered_fields=rendered)
    elif state is S.UP_FOR_RESCHEDULE:
        at = result.outcome.reschedule_at or transitions.now()
        transitions.schedule_reschedule(session, ti, next_try_at=at, rendered_fields=rendered)
    else:
        transitions.mark_failed(session, ti, rendered_fields=rendered)


def _skip_downstream(session: Session, key: TaskInstanceKey, task_ids: tuple[str, ...]) -> None:
    """Skip the instances (every map index) of the tasks a branch did not follow."""
    ids = list(
        session.scalars(
            select(TaskInstance.id).where(
                TaskInstance.dag_id == key.dag_id,
                TaskInstance.run_id == key.run_id,
                TaskInstance.task_id.in_(task_ids),
            )
        )
    )
    transitions.mark_skipped(session, ids)


def retry_transaction(action: Callable[[], T], patience: float) -> T:
    """Run a transaction again while the database is away or broke a deadlock, backing off,
    for up to ``patience`` seconds; then the last error is raised."""
    deadline = time.monotonic() + patience
    delay = 0.05
    while True:
        try:
            return action()
        except (OperationalError, DBAPIError) as exc:
            if isinstance(exc, IntegrityError) or time.monotonic() + delay > deadline:
                raise
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            log.warning("database error (%s); trying again in %.2f s", reason, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def prepare_child(store: Store) -> None:
    """In a child forked for a try (ahead of it, with prefork): drop the parent's database
    connections, connect, and run the claim's first statement for no instance in a
    read-only transaction. A child forked ahead of its try so pays, before the try comes,
    for connecting and for the first run of the code in a new process (each page of
    memory that code touches is copied then). A database that cannot be reached is left
    to the claim, which retries."""
    store.after_fork()
    try:
        with store.sessions() as session:
            session.connection(execution_options={READ_ONLY: True})
            params = {"dag_id": WARM_UP_DAG_ID, "run_id": "", "task_id": "", "map_index": -1}
            session.execute(_QUEUED_TRY, params).first()
    except SQLAlchemyError as exc:
        log.debug("could not connect ahead of the try: %s", exc)


def warm_up(store: Store) -> None:
    """Run one try's database work on a throwaway instance, then roll all of it back.

    A LocalExecutor worker calls this once: the children it forks inherit the engine's
    cache of compiled statements, so that a try runs its statements instead of first
    compiling them, which costs more than running them. Only an optimisation: a failure
    is logged, never raised.
    """
    stamp = transitions.now()
    key = TaskInstanceKey(WARM_UP_DAG_ID, f"warm-up-{os.getpid()}-{stamp.timestamp()}", "task")
    try:
        with store.sessions() as session:
            session.add_all(
                [
                    DagRun(
                        dag_id=key.dag_id,
                        run_id=key.run_id,
                        logical_date=stamp,
                        run_type="manual",
                        state="running",
                    ),
                    TaskInstance(
                        dag_id=key.dag_id,
                        run_id=key.run_id,
                        task_id=key.task_id,
                        state=S.QUEUED.value,
                    ),
                ]
            )
            session.flush()
            workload = TaskWorkload(key, try_number=1, dag_file=os.devnull)
            claim = _claim_in(session, workload, Path(os.devnull))
            assert claim is not None
            transitions.heartbeat(session, claim.ti_id, pid=claim.pid)
            pk = claim.facts.run.pk
            put_xcom(session, pk, key.dag_id, key.run_id, key.task_id, -1, "return_value", "1")
            get_xcom(session, pk, key.task_id, -1, "return_value")
            _record_outcome(session, claim, _Result(TryOutcome(S.SUCCESS), rendered="{}"))
            session.rollback()
    except Exception as exc:  # the database away, say: the children compile for themselves
        log.warning("could not warm up the task runner: %s: %s", type(exc).__name__, exc)
