"""A warm worker process of the LocalExecutor: take a workload, fork a child, report its exit.

The worker is forked once from the executor's process and lives until the executor stops
it. It keeps whatever ``prepare`` imported (DAG modules), so that each child, forked from
it, starts warm. It talks to the executor over one duplex pipe, one message at a time:

- executor to worker: ``("task", TaskWorkload)``, ``("callback", CallbackWorkload)``, or
  ``None`` (finish and exit);
- worker to executor: ``("ready",)`` once ``worker_init`` has run, ``("init_failed", text)``
  if it raised, then ``("done", exit_code)`` after each workload, or
  ``("not_started", text)`` when its child could not be forked.

With ``prefork``, the worker forks its next child ahead of time (a *spare*: as soon as
the previous workload's child has started, or when idle), so that a workload starts in
the time of a pipe write instead of a fork. The spare is used only when
``prepare`` says it changed nothing since the spare was forked; otherwise a fresh child is
forked after ``prepare``, exactly as without ``prefork``.

The pid of the running child is also written to a shared integer, so that the executor can
kill the child's process group if the worker itself dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import FrameType
from typing import NoReturn, TypeVar

from sluice.core.messages import CallbackWorkload, TaskWorkload
from sluice.executors.forking import (
    Hook,
    Prepare,
    RunCallback,
    RunTask,
    Spare,
    Workload,
    children_exiting,
    discard,
    fork_child,
    fork_spare,
    hand_off,
    kill_group,
    reap_exited,
    wait_child,
)

log = logging.getLogger("sluice.executor")

T = TypeVar("T")

REAP_POLL = 0.002
"""Seconds between two looks, while idle, for a child that reported and is exiting."""


@dataclass(frozen=True)
class WorkerHooks:
    """The injected code a worker runs: the executor itself never imports user code."""

    run_task: RunTask
    run_callback: RunCallback | None = None
    prepare: Prepare | None = None
    worker_init: Hook | None = None
    child_init: Hook | None = None
    prefork: bool = True

    def run(self, workload: Workload) -> int:
        """Run a workload with the matching function (in the child)."""
        if isinstance(workload, TaskWorkload):
            return self.run_task(workload)
        assert self.run_callback is not None  # the worker never forks for a missing one
        return self.run_callback(workload)


def worker_main(
    conn: Connection, child_pid: ctypes.c_int, hooks: WorkerHooks, inherited: Iterable[Connection]
) -> NoReturn:
    """The worker's whole life (runs in the forked worker process, never returns).

    ``inherited`` are the executor's ends of the other workers' pipes, which the fork
    copied: the worker closes them so that only the executor holds them.
    """
    code = 0
    try:
        for other in inherited:
            other.close()
        _Worker(conn, child_pid, hooks).serve()
    except BaseException:
        # The executor sees the pipe close and replaces this worker; say why on stderr.
        with contextlib.suppress(Exception):
            traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


class _Worker:
    """The loop inside a worker process."""

    def __init__(self, conn: Connection, child_pid: ctypes.c_int, hooks: WorkerHooks) -> None:
        self.conn = conn
        self.child_pid = child_pid
        self.hooks = hooks
        self.spare: Spare | None = None
        self.child_hooks: list[Hook] = [conn.close]
        if hooks.child_init is not None:
            self.child_hooks.append(hooks.child_init)

    def serve(self) -> None:
        """Initialise, then run workloads until told to stop or the executor goes away."""
        # Ctrl-C reaches the whole foreground process group: the executor decides what
        # happens to running tasks (end or terminate), so the worker itself ignores it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, self._on_terminate)
        try:
            if self.hooks.worker_init is not None:
                self.hooks.worker_init()
        except Exception:
            self.conn.send(("init_failed", traceback.format_exc()))
            return
        self.conn.send(("ready",))
        try:
            self._loop()
        finally:
            if self.spare is not None:
                discard(self.spare)

    def _loop(self) -> None:
        while True:
            if self.hooks.prefork and self.spare is None:
                self._fork_spare()
            # The last child reported its exit code and is still exiting: reap it once it
            # is gone, unless a workload comes first (then it is reaped at the next fork).
            while children_exiting() and not self.conn.poll(REAP_POLL):
                reap_exited()
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                return  # the executor's process is gone
            if message is None:
                return
            workload: Workload = message[1]
            reply: tuple[object, ...] = ("done", 0)  # no callback runner: nothing to run
            if not (isinstance(workload, CallbackWorkload) and self.hooks.run_callback is None):
                try:
                    reply = ("done", self._run(workload))
                except OSError as exc:  # the fork itself failed (EAGAIN, ENOMEM)
                    reply = ("not_started", f"the worker could not fork a child: {exc}")
            try:
                self.conn.send(reply)
            except OSError:
                return

    def _run(self, workload: Workload) -> int:
        """Prepare, start the child (the spare, or a fresh fork), wait; return its exit code."""
        spare_is_current = True
        if self.hooks.prepare is not None and isinstance(workload, TaskWorkload):
            try:
                spare_is_current = self.hooks.prepare(workload) is False
            except (Exception, SystemExit):  # a DAG file may call sys.exit() at import
                # The child imports the file again and reports the error through the runner.
                log.warning("preparing %s failed; the task runs cold", workload.key, exc_info=True)
                spare_is_current = False
        spare, self.spare = self.spare, None
        handed_off = False
        # SIGTERM (terminate) waits until the child's pid is recorded, so that the handler
        # always knows which process group to kill.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            if spare is not None:
                if spare_is_current:
                    handed_off = hand_off(spare, workload)
                else:
                    discard(spare)  # before the fork, so that the new child cannot hold it
            if spare is not None and handed_off:
                pid = spare.pid
            else:
                pid = self._fork(
                    lambda: fork_child(workload, self.hooks.run, before=self.child_hooks)
                )
            self.child_pid.value = pid
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        stale = spare if spare is not None and not handed_off else None
        if stale is not None:
            wait_child(stale.pid)
        if self.hooks.prefork:
            # The next workload's child is forked now, while this one runs, so that it has
            # started (and run child_init) by the time the next workload comes.
            self._fork_spare()
        try:
            # The code the child reports as it exits: the executor hears of the workload's
            # end without waiting for the process to be torn down.
            return wait_child(pid, reported=True)
        finally:
            self.child_pid.value = 0

    def _fork_spare(self) -> None:
        try:
            self.spare = self._fork(lambda: fork_spare(self.hooks.run, before=self.child_hooks))
        except OSError:
            log.warning("could not fork a spare child; forking on demand", exc_info=True)

    def _fork(self, fork: Callable[[], T]) -> T:
        """Fork with the worker's heap frozen for the garbage collector.

        Frozen objects are never scanned by the child's collector, so the child does not
        copy the worker's whole heap (imported DAGs included) page by page on its first
        full collection. The worker unfreezes at once, to keep collecting its own garbage.
        """
        gc.freeze()
        try:
            return fork()
        finally:
            gc.unfreeze()

    def _on_terminate(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM from the executor's terminate(): kill the running task, then exit."""
        kill_group(self.child_pid.value)
        os._exit(128 + signum)
