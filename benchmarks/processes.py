"""The processes a benchmark starts: their tree, their memory, and stopping all of them.

Read from ``/proc`` (Linux), so that the benchmarks need nothing beyond Sluice itself.
Every process is known by its pid *and* its start time, so that a pid reused by an
unrelated process after ours exited is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Proc:
    """One process: pid and start time (clock ticks since boot) name it unambiguously."""

    pid: int
    start: int


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) of ``pid``, or None when it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name, field 2, is in parentheses and may hold spaces and parentheses.
    fields = text[text.rindex(")") + 2 :].split()
    state = fields[0]
    if state in ("Z", "X"):  # a zombie is gone for our purposes: it holds no memory
        return None
    return int(fields[1]), int(fields[19])


def alive(proc: Proc) -> bool:
    """Whether ``proc`` still runs (the same process, not a reuse of its pid)."""
    stat = _stat(proc.pid)
    return stat is not None and stat[1] == proc.start


def _children_map() -> Mapping[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                children.setdefault(stat[0], []).append(int(entry.name))
    return children


def tree(root: int) -> list[Proc]:
    """``root`` and all its descendants that are alive now, root first."""
    children = _children_map()
    found: list[Proc] = []
    pending = [root]
    while pending:
        pid = pending.pop()
        stat = _stat(pid)
        if stat is None:
            continue
        found.append(Proc(pid, stat[1]))
        pending.extend(children.get(pid, ()))
    return found


def pss_bytes(procs: Iterable[Proc]) -> int:
    """Proportional set size summed over ``procs`` (shared pages counted once overall)."""
    total = 0
    for proc in procs:
        try:
            text = (PROC / str(proc.pid) / "smaps_rollup").read_text()
        except OSError:
            continue  # exited meanwhile
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
                break
    return total


def signal_all(procs: Iterable[Proc], signum: int) -> None:
    """Send ``signum`` to each of ``procs`` that is still the process it was."""
    for proc in procs:
        if alive(proc):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signum)


def wait_gone(procs: Sequence[Proc], timeout: float) -> list[Proc]:
    """Wait up to ``timeout`` seconds for ``procs`` to exit; return those still alive."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in procs if alive(p)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def stop(
    process: subprocess.Popen[bytes], *, signum: int = signal.SIGINT, grace: float = 10.0
) -> bool:
    """Stop ``process`` and every process below it; True when it stopped by itself.

    ``signum`` goes to the top process only (it must stop its children, which is what
    is tested); whatever is left after ``grace`` seconds, the top process included, is
    killed. Task processes that made themselves group leaders are found through the
    tree taken before the signal.
    """
    procs = tree(process.pid)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)
    deadline = time.monotonic() + grace
    while process.poll() is None and time.monotonic() < deadline:
        # Children forked meanwhile are orphaned when their parent exits: note them now.
        procs += [p for p in tree(process.pid) if p not in procs]
        time.sleep(0.05)
    clean = process.poll() is not None
    left = wait_gone(procs, 0.0 if not clean else 2.0)
    if left:
        clean = False
        signal_all(left, signal.SIGKILL)
        wait_gone(left, 5.0)
    if process.poll() is None:
        process.kill()
    process.wait()
    return clean
