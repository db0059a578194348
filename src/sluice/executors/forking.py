"""One workload in one forked child: what every process-based executor shares.

The child gets its own process group (so that killing the group also kills whatever the
task started, e.g. a Bash command), default signal handlers, and an exit code that the
parent reads with ``os.waitpid``. Whatever happens inside, the child leaves with
``os._exit``: it never returns into the forking process's code, never runs its atexit
handlers and never flushes a copy of its buffers twice.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import select
import signal
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from sluice.core.messages import CallbackWorkload, TaskWorkload

Workload = TaskWorkload | CallbackWorkload
W = TypeVar("W", bound=Workload)

RunTask = Callable[[TaskWorkload], int]
"""Runs one try in the child and returns its exit code (the CLI passes the task runner)."""
RunCallback = Callable[[CallbackWorkload], int]
"""Runs one DAG-level callback in the child and returns its exit code."""
Prepare = Callable[[TaskWorkload], bool | None]
"""Runs in the worker before the fork, e.g. to import the DAG file so that children inherit it.

It returns False when it changed nothing in the worker (the file was already imported):
only then may the LocalExecutor hand the workload to a child forked before it ran.
"""
Hook = Callable[[], object]
"""A no-argument hook: ``worker_init`` (once per worker) or ``child_init`` (once per child)."""

FAILED = 1
"""The exit code of a child whose function raised or returned something that is not a code."""


def flush_stdio() -> None:
    """Flush Python's stdout and stderr so that a fork does not duplicate buffered output."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def exit_code_of(value: object) -> int:
    """The process exit code for what the child's function returned (0-255, else 1)."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
        return value
    return FAILED


def fork_child(
    workload: W,
    function: Callable[[W], int],
    *,
    before: Iterable[Hook] = (),
) -> int:
    """Fork a child that runs ``function(workload)`` in its own process group; return its pid.

    ``before`` hooks run in the child first, in order: closing what the child must not
    keep (a worker's pipe to the executor: while a child held it, the executor could not
    notice that the worker died), then e.g. ``child_init``.
    """
    return _fork(functools.partial(function, workload), before)


@dataclass(frozen=True)
class Spare:
    """A child forked ahead of its workload, waiting for it on a pipe (see ``fork_spare``)."""

    pid: int
    handoff: int
    """The write end of the pipe the workload goes down; closing it unused ends the spare."""


def fork_spare(run: Callable[[Workload], int], *, before: Iterable[Hook] = ()) -> Spare:
    """Fork a child now that runs ``run(workload)`` once :func:`hand_off` gives it one.

    The fork (a millisecond for a big process) and the ``before`` hooks happen while the
    worker is idle, so that a workload starts in the time of one pipe write. The forking
    process must close ``handoff`` before it forks anything else, or that other child
    would keep the pipe open and the spare would never see its end.
    """
    read_end, write_end = os.pipe()
    receive = functools.partial(_receive_and_run, read_end, run)
    pid = _fork(receive, [functools.partial(os.close, write_end), *before])
    os.close(read_end)
    return Spare(pid, write_end)


def hand_off(spare: Spare, workload: Workload) -> bool:
    """Give a spare its workload; False if the spare is gone (e.g. its ``child_init`` failed)."""
    try:
        # A few hundred bytes: one write, atomic below PIPE_BUF.
        os.write(spare.handoff, pickle.dumps(workload))
    except OSError:
        return False
    finally:
        os.close(spare.handoff)
    return True


def discard(spare: Spare) -> None:
    """End an unused spare: it reads end-of-file and exits without running anything."""
    with contextlib.suppress(OSError):
        os.close(spare.handoff)


def _receive_and_run(read_end: int, run: Callable[[Workload], int]) -> int:
    """In a spare: wait for the workload, then run it; exit quietly if none comes."""
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    if not chunks:
        return 0
    workload: Workload = pickle.loads(b"".join(chunks))
    return run(workload)


_reports: dict[int, int] = {}
"""Child pid to the read end of the pipe it reports its exit code on (see ``wait_child``)."""
_exiting: set[int] = set()
"""Children that reported their exit code but may not have been reaped yet."""


def _fork(start: Callable[[], int], before: Iterable[Hook]) -> int:
    """Fork a child in its own process group that runs ``start``; return its pid."""
    reap_exited()
    flush_stdio()
    report, report_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(report)
        _run_child(start, before, report_write)
    os.close(report_write)
    _reports[pid] = report
    # Both sides set the group, so that it exists whichever runs first (the usual race fix).
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    return pid


def _run_child(start: Callable[[], int], before: Iterable[Hook], report: int) -> NoReturn:
    """The child's whole life: reset what the fork inherited, run, leave with an exit code.

    The code is written to ``report`` before the process exits: the exit of a process the
    size of a scheduler takes milliseconds (its memory is unmapped), which its parent need
    not wait for to learn how the workload ended.
    """
    code = FAILED
    try:
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # A worker blocks SIGTERM around the fork; the mask is inherited, so lift it here.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        for hook in before:
            hook()
        code = exit_code_of(start())
    except SystemExit as exc:
        code = exit_code_of(exc.code)
    except BaseException:
        with contextlib.suppress(Exception):
            traceback.print_exc()
        code = FAILED
    finally:
        flush_stdio()
        with contextlib.suppress(OSError):
            os.write(report, bytes([code]))
        os._exit(code)


def wait_child(pid: int, *, reported: bool = False) -> int:
    """Wait for a child and return its exit code (negative: the signal that killed it).

    With ``reported``, the code a child forked here reports just before it exits is
    returned at once; the process is reaped later, once it is gone (``reap_exited``).
    """
    report = _reports.pop(pid, None)
    code = None
    if report is not None:
        try:
            code = _await_report(pid, report) if reported else None
        finally:
            os.close(report)
    if code is None:
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)
    _exiting.add(pid)
    reap_exited()
    return code


def _await_report(pid: int, report: int) -> int | None:
    """The code the child reported; None if it ended without reporting (killed, crashed).

    The child's exit is watched too (a pidfd), so that a process the task forked, which
    inherited the pipe, cannot hold the wait after the child died without reporting.
    """
    try:
        exited = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux >= 5.3: the pipe's end-of-file only
        data = os.read(report, 1)
        return data[0] if data else None
    try:
        ready, _, _ = select.select([report, exited], [], [])
        if report not in ready:
            # It exited; a report it wrote before is still readable.
            ready, _, _ = select.select([report], [], [], 0)
        if report not in ready:
            return None
        data = os.read(report, 1)
        return data[0] if data else None
    finally:
        os.close(exited)


def children_exiting() -> bool:
    """Whether a child that reported its exit code has not been reaped yet."""
    return bool(_exiting)


def reap_exited() -> None:
    """Reap the children that reported their exit code and have exited since."""
    for pid in list(_exiting):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _exiting.discard(pid)


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    """Signal a process group, ignoring one that is already gone."""
    if pgid > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def describe_exit(code: int | None) -> str:
    """Say how a process ended, for an event's message: ``exit code 3``, ``killed by SIGKILL``."""
    if code is None:
        return "unknown exit"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
