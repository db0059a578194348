"""Stopping a long-running command cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click


@contextmanager
def stop_on_signals(stop: threading.Event, *, message: str = "") -> Iterator[None]:
    """Ctrl-C and SIGTERM set ``stop`` (and print ``message``); a second one raises
    KeyboardInterrupt, for a user who wants out now. The old handlers come back after."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        if message:
            click.echo(message)

    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
