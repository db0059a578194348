"""One try of one task instance: callbacks, templates, execute, XCom, the outcome."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2

from sluice.core.errors import (
    DownstreamTasksSkipped,
    FailTask,
    RescheduleTask,
    SkipTask,
    SluiceError,
    TaskTimeout,
)
from sluice.core.states import TaskInstanceState
from sluice.runner.task_instance import RuntimeTaskInstance
from sluice.sdk.operator import BaseOperator
from sluice.sdk.operators.bash import BashCommandFailed
from sluice.sdk.templating import render_template_fields

log = logging.getLogger("sluice.task")

_PACKAGE = Path(__file__).resolve().parents[1]
_EXAMPLES = _PACKAGE / "example_dags"
# Errors whose message says it all: a traceback would show only Sluice's frames.
_MESSAGE_ONLY: tuple[type[BaseException], ...] = (SluiceError, BashCommandFailed)


@dataclass(frozen=True)
class TryOutcome:
    """How a try ended."""

    state: TaskInstanceState
    error: str | None = None
    traceback: str | None = None
    skip_downstream: tuple[str, ...] = ()
    exception: BaseException | None = None
    """The exception that ended the try (``context["exception"]`` in callbacks)."""
    reschedule_at: datetime | None = None
    """When an UP_FOR_RESCHEDULE sensor pokes again."""


def run_try(
    task: BaseOperator,
    ti: RuntimeTaskInstance,
    context: dict[str, Any],
    env: jinja2.Environment,
    *,
    on_rendered: Callable[[BaseOperator], None] | None = None,
) -> TryOutcome:
    """Run the task once; failures become UP_FOR_RETRY while tries remain.

    ``on_rendered`` sees the task once its template fields are rendered, before it runs.
    """
    ti.start_date = _now()
    ti.state = TaskInstanceState.RUNNING
    try:
        # As Airflow: templates are rendered first, so the callback sees the rendered task.
        render_template_fields(task, context, env)
        if on_rendered is not None:
            on_rendered(task)
        _call_callbacks(task.on_execute_callback, context, "on_execute_callback")
        task.pre_execute(context)
        with _timeout(task):
            result = task.execute(context)
        task.post_execute(context, result)
        if task.do_xcom_push:
            ti.push_result(result, multiple_outputs=task.multiple_outputs)
        outcome = TryOutcome(TaskInstanceState.SUCCESS)
    except DownstreamTasksSkipped as skipped:
        if task.do_xcom_push:
            ti.push_result(skipped.return_value, multiple_outputs=False)
        outcome = TryOutcome(TaskInstanceState.SUCCESS, skip_downstream=tuple(skipped.tasks))
    except SkipTask as exc:
        log.info("task skipped: %s", exc or "SkipTask raised")
        outcome = TryOutcome(TaskInstanceState.SKIPPED, error=str(exc) or None)
    except RescheduleTask as exc:
        log.info("sensor rescheduled: next poke at %s", exc.reschedule_at.isoformat())
        outcome = TryOutcome(TaskInstanceState.UP_FOR_RESCHEDULE, reschedule_at=exc.reschedule_at)
    except FailTask as exc:
        outcome = _failure(exc, retry=False, ti=ti)
    except Exception as exc:
        outcome = _failure(exc, retry=True, ti=ti)
    except SystemExit as exc:
        # As Airflow: exit code 0 or None is a success; any other code fails the try.
        if exc.code in (0, None):
            log.info("task called sys.exit(%r): success", exc.code)
            outcome = TryOutcome(TaskInstanceState.SUCCESS)
        else:
            outcome = _failure(exc, retry=True, ti=ti)
    ti.end_date = _now()
    ti.state = outcome.state
    # As Airflow: callbacks get the exception object itself.
    context["exception"] = outcome.exception
    callback = {
        TaskInstanceState.SUCCESS: ("on_success_callback", task.on_success_callback),
        TaskInstanceState.FAILED: ("on_failure_callback", task.on_failure_callback),
        TaskInstanceState.UP_FOR_RETRY: ("on_retry_callback", task.on_retry_callback),
    }.get(outcome.state)
    if callback is not None:
        _call_callbacks(callback[1], context, callback[0])
    if task.email and outcome.state in (TaskInstanceState.FAILED, TaskInstanceState.UP_FOR_RETRY):
        # email_on_failure / email_on_retry: logs, never raises. Imported here: a task
        # without an address (most) never pays for the email modules.
        from sluice.integrations.email.alerts import send_task_alert

        retry = outcome.state is TaskInstanceState.UP_FOR_RETRY
        send_task_alert(task, context, retry=retry, exception=outcome.exception)
    return outcome


def _failure(exc: BaseException, *, retry: bool, ti: RuntimeTaskInstance) -> TryOutcome:
    if isinstance(exc, SystemExit):
        text = f"task called sys.exit({exc.code!r})"
    else:
        text = f"{type(exc).__name__}: {exc}"
    trace = "".join(traceback.format_exception(type(exc), exc, _user_frames(exc.__traceback__)))
    if isinstance(exc, _MESSAGE_ONLY):
        log.error("task failed: %s", text)
    else:
        log.error("task failed: %s\n%s", text, trace.rstrip())
    retries_left = retry and ti.try_number <= ti.max_tries
    state = TaskInstanceState.UP_FOR_RETRY if retries_left else TaskInstanceState.FAILED
    return TryOutcome(state, error=text, traceback=trace, exception=exc)


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback from the first frame outside Sluice (all of it if there is none)."""
    frame = tb
    while frame is not None and _is_sluice_file(frame.tb_frame.f_code.co_filename):
        frame = frame.tb_next
    return frame or tb


def _is_sluice_file(filename: str) -> bool:
    path = Path(filename).resolve()
    return path.is_relative_to(_PACKAGE) and not path.is_relative_to(_EXAMPLES)


def _call_callbacks(callbacks: Any, context: dict[str, Any], name: str) -> None:
    """Call one callback or a list; a callback that raises is logged, never fatal."""
    if not callbacks:
        return
    for callback in callbacks if isinstance(callbacks, list | tuple) else [callbacks]:
        try:
            callback(context)
        except (Exception, SystemExit):
            log.exception("%s %r raised; carrying on", name, callback)


@contextlib.contextmanager
def _timeout(task: BaseOperator) -> Iterator[None]:
    """Raise TaskTimeout in the task when it passes execution_timeout (main thread only)."""
    limit = task.execution_timeout
    if limit is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    seconds = limit.total_seconds()

    def expire(signum: int, frame: Any) -> None:
        task.on_kill()
        raise TaskTimeout(
            f"task '{task.task_id}' timed out after {seconds:g} s (execution_timeout)"
        )

    previous: Callable[..., Any] | int | None = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _now() -> datetime:
    return datetime.now(UTC)
