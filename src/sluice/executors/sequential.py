"""SequentialExecutor: one workload at a time, run inside ``events()``; for debugging.

Each workload still runs in its own forked child (same semantics as the LocalExecutor's
children: own process group, exit code, a crash cannot take the scheduler down), but
there is no worker: the child is forked from the scheduler's process and waited for
before ``events()`` returns, so tasks never overlap and a debugger or a print in the
scheduler sees everything in order. The hooks run in the child, never in the scheduler's
process, which must not import user code.
"""

from __future__ import annotations

import functools
import time
from collections import deque

from sluice.core.errors import ExecutorError
from sluice.core.messages import CallbackWorkload, TaskEvent, TaskWorkload
from sluice.executors.forking import (
    Hook,
    Prepare,
    RunCallback,
    RunTask,
    fork_child,
    kill_group,
    wait_child,
)


class SequentialExecutor:
    """Runs queued workloads one by one in forked children, when the scheduler waits."""

    slots = 1

    def __init__(
        self,
        run_task: RunTask,
        run_callback: RunCallback | None = None,
        prepare: Prepare | None = None,
        worker_init: Hook | None = None,
        child_init: Hook | None = None,
    ) -> None:
        self._run_task = run_task
        self._run_callback = run_callback
        self._prepare = prepare
        self._worker_init = worker_init
        self._child_init = child_init
        self._queue: deque[TaskWorkload | CallbackWorkload] = deque()
        self._ready: list[TaskEvent] = []
        self._outstanding = 0
        self._child = 0
        self._started = False
        self._stopping = False

    def start(self) -> None:
        """Nothing to start: children are forked when ``events()`` runs them."""
        if self._started:
            raise ExecutorError("the SequentialExecutor is already started")
        self._started = True

    def queue(self, workload: TaskWorkload) -> None:
        """Append a try; it runs during a later ``events()`` call."""
        self._accepting()
        self._outstanding += 1
        self._queue.append(workload)

    def run_callback(self, workload: CallbackWorkload) -> None:
        """Append a DAG-level callback; it runs in order with the tasks and yields no event."""
        self._accepting()
        self._queue.append(workload)

    def running(self) -> int:
        """Task workloads queued or running whose event has not been returned yet."""
        return self._outstanding

    def events(self, timeout: float) -> list[TaskEvent]:
        """Run queued workloads until one task has finished; with nothing queued, wait."""
        if not self._started:
            raise ExecutorError("the SequentialExecutor is not started")
        ran = False
        while not self._ready and self._queue and not self._stopping:
            self._run_next()
            ran = True
        if not self._ready and not ran and timeout > 0:
            # Nothing is queued, so nothing can finish before the scheduler's next tick.
            time.sleep(timeout)
        events, self._ready = self._ready, []
        self._outstanding -= len(events)
        return events

    def end(self) -> None:
        """Stop: queued workloads that never ran get an event with ``exit_code=None``."""
        self._stopping = True
        self._drop_queue("the executor ended before it started")

    def terminate(self) -> None:
        """Kill the running child's process group (if ``events()`` was interrupted) and stop."""
        self._stopping = True
        kill_group(self._child)
        self._drop_queue("the executor was terminated before it started")

    def _accepting(self) -> None:
        """Refuse work before start() and after end() or terminate()."""
        if not self._started:
            raise ExecutorError("the SequentialExecutor is not started")
        if self._stopping:
            raise ExecutorError("the SequentialExecutor is stopping and takes no new work")

    def _run_next(self) -> None:
        """Fork a child for the next workload and wait for it."""
        workload = self._queue.popleft()
        hooks: list[Hook] = []
        if self._worker_init is not None:
            hooks.append(self._worker_init)
        if isinstance(workload, TaskWorkload):
            if self._prepare is not None:
                hooks.append(functools.partial(self._prepare, workload))
            if self._child_init is not None:
                hooks.append(self._child_init)
            self._child = fork_child(workload, self._run_task, before=hooks)
        elif self._run_callback is not None:
            if self._child_init is not None:
                hooks.append(self._child_init)
            self._child = fork_child(workload, self._run_callback, before=hooks)
        else:
            return
        # Left set if the wait is interrupted (Ctrl-C), so that terminate() can kill it.
        code = wait_child(self._child)
        self._child = 0
        if isinstance(workload, TaskWorkload):
            self._ready.append(TaskEvent(workload.key, workload.try_number, code))

    def _drop_queue(self, why: str) -> None:
        """Report queued task workloads that will never run."""
        for workload in self._queue:
            if isinstance(workload, TaskWorkload):
                self._ready.append(TaskEvent(workload.key, workload.try_number, None, why))
        self._queue.clear()
