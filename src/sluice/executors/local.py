"""LocalExecutor: a pool of warm worker processes, each task in its own forked child.

The executor keeps ``warm_workers`` workers from :meth:`LocalExecutor.start` on, forks more
when work waits and every worker is busy (up to ``parallelism``), lets the extra ones go
after a minute idle, and hands each
workload to an idle one over that worker's own pipe (no shared queue: a worker killed
while reading a shared queue would leave its lock held, and the executor always knows
which workload each worker has). Waiting is one ``select`` over the workers' pipes, so
:meth:`LocalExecutor.events` returns the moment a child's exit is reported, and a
worker's death shows up on the same wait as its pipe closing.

The executor is driven from one thread (the scheduler's loop). Workers are forked from
that process, at start() and whenever one must be replaced, so start it before starting
threads that hold locks a fork would copy.
"""

from __future__ import annotations

import contextlib
import ctypes
import heapq
import logging
import mmap
import os
import signal
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection, wait
from typing import cast

from sluice.core.errors import ExecutorError
from sluice.core.messages import CallbackWorkload, TaskEvent, TaskWorkload
from sluice.executors.forking import (
    Hook,
    Prepare,
    RunCallback,
    RunTask,
    Workload,
    describe_exit,
    flush_stdio,
    kill_group,
    wait_child,
)
from sluice.executors.worker import WorkerHooks, worker_main

log = logging.getLogger("sluice.executor")

IDLE_WORKER_SECONDS = 60.0
"""A worker beyond ``warm_workers`` that has been idle this long exits, so that an idle
Sluice holds a few processes, not ``parallelism`` of them."""

TERMINATE_GRACE = 2.0
"""Seconds terminate() gives a worker to kill its child and exit before SIGKILL."""


@dataclass(eq=False)
class _WorkerHandle:
    """The executor's view of one worker process."""

    pid: int
    conn: Connection
    child_pid: ctypes.c_int
    """The running child's pid (0 when idle), written by the worker into shared memory."""
    ready: bool = False
    current: Workload | None = None
    idle_since: float = 0.0


class LocalExecutor:
    """Runs workloads on ``parallelism`` warm worker processes, each in a forked child.

    The code that runs a workload is injected, because executors never import user code:
    ``run_task`` (and ``run_callback``) run in the child and return its exit code;
    ``prepare`` runs in the worker before the fork (to import the DAG file once, so that
    children inherit it); ``worker_init`` runs once in each new worker; ``child_init``
    runs in each child before ``run_task`` (to drop what must not be shared across a fork,
    such as database connections).

    With ``prefork`` (the default) each worker keeps one child forked ahead of time, so that
    a workload starts without waiting for a fork; it is used only when ``prepare`` returns
    False (nothing new imported). That costs one idle process per worker.
    """

    def __init__(
        self,
        parallelism: int,
        run_task: RunTask,
        run_callback: RunCallback | None = None,
        prepare: Prepare | None = None,
        worker_init: Hook | None = None,
        child_init: Hook | None = None,
        prefork: bool = True,
        warm_workers: int = 1,
    ) -> None:
        if isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1:
            raise ExecutorError(
                f"parallelism must be a whole number of at least 1, not {parallelism!r}"
            )
        self.slots = parallelism
        self._warm = max(1, min(warm_workers, parallelism))
        self._hooks = WorkerHooks(
            run_task, run_callback, prepare, worker_init, child_init, prefork=prefork
        )
        self._workers: dict[Connection, _WorkerHandle] = {}
        # Longest idle first: its spare child (prefork) has had the most time to be ready.
        self._idle: deque[_WorkerHandle] = deque()
        self._pending: list[tuple[int, int, Workload]] = []
        self._sequence = 0
        self._ready: list[TaskEvent] = []
        self._outstanding = 0
        self._started = False
        self._stopping = False
        self._retiring: set[Connection] = set()

    # -- the Executor protocol -------------------------------------------------------------

    def start(self) -> None:
        """Fork the warm workers and wait until each has run ``worker_init``."""
        if self._started:
            raise ExecutorError("the LocalExecutor is already started")
        self._started = True
        for _ in range(self._warm):
            self._spawn()
        try:
            while any(not worker.ready for worker in self._workers.values()):
                self._receive(None)
        except BaseException:
            self.terminate()
            raise

    def queue(self, workload: TaskWorkload) -> None:
        """Run this try as soon as a worker is free (higher priority first)."""
        self._accepting()
        self._outstanding += 1
        self._push(workload)

    def run_callback(self, workload: CallbackWorkload) -> None:
        """Run a DAG-level callback on a worker; it produces no event (see docs/executors.md)."""
        self._accepting()
        self._push(workload)

    def running(self) -> int:
        """Task workloads queued or running whose event :meth:`events` has not returned yet."""
        return self._outstanding

    def events(self, timeout: float) -> list[TaskEvent]:
        """Finished task workloads, waiting up to ``timeout`` seconds for the first one."""
        if not self._started:
            raise ExecutorError("the LocalExecutor is not started")
        deadline = time.monotonic() + max(0.0, timeout)
        wait_for = 0.0 if self._ready else max(0.0, timeout)
        while self._workers:
            self._receive(wait_for)
            wait_for = deadline - time.monotonic()
            if self._ready or wait_for <= 0:
                break
        events, self._ready = self._ready, []
        self._outstanding -= len(events)
        self._retire_idle()
        return events

    def end(self) -> None:
        """Start nothing new, let running workloads finish, then stop the workers.

        Events of the workloads that finished meanwhile stay available to :meth:`events`;
        queued workloads that never started get an event with ``exit_code=None``.
        """
        if not self._started or self._stopping:
            return
        self._stopping = True
        while any(worker.current is not None for worker in self._workers.values()):
            self._receive(None)
        self._drop_pending("the executor ended before it started")
        for worker in list(self._workers.values()):
            # One already gone is reaped below like the others.
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        while self._workers:
            self._receive(None)

    def terminate(self) -> None:
        """Kill every running child (its whole process group) and every worker now."""
        if not self._started:
            return
        self._stopping = True
        workers = list(self._workers.values())
        for worker in workers:
            # The worker's SIGTERM handler kills its child's process group, then exits.
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGTERM)
        deadline = time.monotonic() + TERMINATE_GRACE
        for worker in workers:
            if not _await_exit(worker.conn, deadline):
                os.kill(worker.pid, signal.SIGKILL)
            self._reap(worker)
            self._report_unfinished(worker, "killed by terminate()")
        self._drop_pending("the executor was terminated before it started")

    # -- dispatching -----------------------------------------------------------------------

    def _accepting(self) -> None:
        """Refuse work before start() and after end() or terminate()."""
        if not self._started:
            raise ExecutorError("the LocalExecutor is not started")
        if self._stopping:
            raise ExecutorError("the LocalExecutor is stopping and takes no new work")

    def _push(self, workload: Workload) -> None:
        """Add a workload to the pending heap and hand it out if a worker is idle."""
        self._sequence += 1
        heapq.heappush(self._pending, (-_priority(workload), self._sequence, workload))
        self._dispatch()

    def _dispatch(self) -> None:
        """Give pending workloads to idle workers."""
        while self._pending and self._idle and not self._stopping:
            worker = self._idle.popleft()
            entry = heapq.heappop(self._pending)
            workload = entry[2]
            kind = "task" if isinstance(workload, TaskWorkload) else "callback"
            try:
                worker.conn.send((kind, workload))
            except OSError:
                # It died while idle; its pipe's end-of-file is handled on the next wait.
                heapq.heappush(self._pending, entry)
                continue
            worker.current = workload
        self._grow()

    def _grow(self) -> None:
        """Fork workers for waiting workloads when every worker is busy, up to ``slots``."""
        starting = sum(1 for worker in self._workers.values() if not worker.ready)
        while len(self._pending) > starting and len(self._workers) < self.slots:
            self._spawn()
            starting += 1

    def _retire_idle(self) -> None:
        """Tell workers beyond the warm ones that have idled a minute to exit."""
        cutoff = time.monotonic() - IDLE_WORKER_SECONDS
        while len(self._workers) - len(self._retiring) > self._warm and self._idle:
            oldest = self._idle[0]
            if oldest.idle_since > cutoff or self._stopping:
                return
            self._idle.popleft()
            with contextlib.suppress(OSError):
                oldest.conn.send(None)
            self._retiring.add(oldest.conn)

    def _drop_pending(self, why: str) -> None:
        """Report every task workload that never reached a worker as not started."""
        for _, _, workload in self._pending:
            if isinstance(workload, TaskWorkload):
                self._ready.append(TaskEvent(workload.key, workload.try_number, None, why))
        self._pending.clear()

    # -- workers ---------------------------------------------------------------------------

    def _spawn(self) -> None:
        """Fork one worker; it reports ``ready`` once ``worker_init`` has run."""
        ours, theirs = Pipe(duplex=True)
        # Anonymous shared memory, inherited by the fork: the worker writes its child's pid.
        memory = mmap.mmap(-1, ctypes.sizeof(ctypes.c_int))
        child_pid = ctypes.c_int.from_buffer(memory)
        inherited = [ours, *self._workers]
        flush_stdio()
        pid = os.fork()
        if pid == 0:
            worker_main(theirs, child_pid, self._hooks, inherited)
        theirs.close()
        self._workers[ours] = _WorkerHandle(pid, ours, child_pid)

    def _receive(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` for messages from workers and handle every one that came."""
        for ready in wait(list(self._workers), timeout):
            conn = cast(Connection, ready)
            worker = self._workers[conn]
            try:
                message = conn.recv()
            except (EOFError, OSError):
                self._lost(worker)
                continue
            self._handle(worker, message)

    def _handle(self, worker: _WorkerHandle, message: tuple[object, ...]) -> None:
        """Apply one message from a worker."""
        tag = message[0]
        if tag == "done":
            workload, worker.current = worker.current, None
            code = cast(int, message[1])
            if isinstance(workload, TaskWorkload):
                self._ready.append(TaskEvent(workload.key, workload.try_number, code))
            elif workload is not None and code != 0:
                log.warning(
                    "callback %s for %s ended with %s",
                    workload.kind,
                    workload.run_id,
                    describe_exit(code),
                )
            worker.idle_since = time.monotonic()
            self._idle.append(worker)
            self._dispatch()
        elif tag == "not_started":
            workload, worker.current = worker.current, None
            if isinstance(workload, TaskWorkload):
                why = str(message[1])
                self._ready.append(TaskEvent(workload.key, workload.try_number, None, why))
            worker.idle_since = time.monotonic()
            self._idle.append(worker)
            self._dispatch()
        elif tag == "ready":
            worker.ready = True
            worker.idle_since = time.monotonic()
            self._idle.append(worker)
            self._dispatch()
        elif tag == "init_failed":
            self._reap(worker)
            raise ExecutorError(
                f"a LocalExecutor worker could not start: worker_init raised\n{message[1]}"
            )

    def _lost(self, worker: _WorkerHandle) -> None:
        """A worker's pipe closed: reap it, report its workload, replace it."""
        if worker.conn in self._retiring:
            self._retiring.discard(worker.conn)
            self._reap(worker)
            return
        code = self._reap(worker)
        if not worker.ready and not self._stopping:
            raise ExecutorError(
                f"a LocalExecutor worker died while starting ({describe_exit(code)})"
            )
        self._report_unfinished(
            worker,
            f"its worker process died ({describe_exit(code)}); the task's process group was killed",
        )
        if not self._stopping:
            log.warning("a LocalExecutor worker died (%s); starting another", describe_exit(code))
            self._spawn()

    def _reap(self, worker: _WorkerHandle) -> int:
        """Forget a worker that is exiting: kill what it ran, wait for it, return its exit."""
        # An orphaned child must not run on while the scheduler retries its try elsewhere.
        kill_group(worker.child_pid.value)
        del self._workers[worker.conn]
        if worker in self._idle:
            self._idle.remove(worker)
        worker.conn.close()
        return wait_child(worker.pid)

    def _report_unfinished(self, worker: _WorkerHandle, why: str) -> None:
        """Report the task a reaped worker was running, with ``exit_code=None``."""
        workload, worker.current = worker.current, None
        if isinstance(workload, TaskWorkload):
            self._ready.append(
                TaskEvent(workload.key, workload.try_number, None, f"not finished: {why}")
            )


def _priority(workload: Workload) -> int:
    """The dispatch priority: a task's own, callbacks first (they are short and rare)."""
    return workload.priority if isinstance(workload, TaskWorkload) else 1 << 30


def _await_exit(conn: Connection, deadline: float) -> bool:
    """Drain a worker's pipe until it closes; False when the deadline passes first."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not conn.poll(remaining):
            return False
        try:
            conn.recv()
        except (EOFError, OSError):
            return True
