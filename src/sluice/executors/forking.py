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


def _fork(start: Callable[[], int], before: Iterable[Hook]) -> int:
    """Fork a child in its own process group that runs ``start``; return its pid."""
    flush_stdio()
    pid = os.fork()
    if pid == 0:
        _run_child(start, before)
    # Both sides set the group, so that it exists whichever runs first (the usual race fix).
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    return pid


def _run_child(start: Callable[[], int], before: Iterable[Hook]) -> NoReturn:
    """The child's whole life: reset what the fork inherited, run, leave with an exit code."""
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
        os._exit(code)


def wait_child(pid: int) -> int:
    """Wait for a child and return its exit code (negative: the signal that killed it)."""
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


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
