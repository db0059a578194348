"""The per-file import time limit: SIGALRM, so only on the main thread of a POSIX process."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class ImportTimeout(BaseException):
    """Raised in the DAG file's code when its time is up; a BaseException so that the user's
    ``except Exception`` cannot swallow it."""


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise ImportTimeout


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ImportTimeout in the block after ``seconds``, on the main thread only."""
    if (
        seconds <= 0
        or not hasattr(signal, "SIGALRM")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    outer_delay, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    if 0 < outer_delay <= seconds:
        # A sooner deadline (a caller's own time limit) is already armed: it rules.
        yield
        return
    outer_handler = signal.signal(signal.SIGALRM, _on_alarm)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:  # the alarm may fire just before the line above: restore all the same
            signal.signal(signal.SIGALRM, outer_handler or signal.SIG_DFL)
            if outer_delay > 0:
                left = max(outer_delay - (time.monotonic() - started), 1e-6)
                signal.setitimer(signal.ITIMER_REAL, left, outer_interval)
