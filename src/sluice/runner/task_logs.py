"""A try's log file: where it lives, and sending everything the task writes into it.

Everything means the task's logging, Python's ``print``, and the output of any process the
task starts: file descriptors 1 and 2 point at the log file while the try runs, so a child
process inherits them. Logging and ``print`` pass through the secrets masker; what a child
process writes to the descriptors itself does not (BashOperator logs its command's output
line by line, so that is masked).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from sluice.core.messages import TaskInstanceKey
from sluice.integrations.masking import mask_text

LOG_FORMAT = "[%(asctime)s] {%(filename)s:%(lineno)d} %(levelname)s - %(message)s"


def task_log_path(base: Path, key: TaskInstanceKey, try_number: int) -> Path:
    """``<base>/dag_id=<id>/run_id=<id>/task_id=<id>[/map_index=<n>]/attempt=<n>.log``."""
    parts = [f"dag_id={key.dag_id}", f"run_id={key.run_id}", f"task_id={key.task_id}"]
    if key.map_index >= 0:
        parts.append(f"map_index={key.map_index}")
    path = base.joinpath(*(_safe(part) for part in parts))
    return path / f"attempt={try_number}.log"


def dag_callback_log_path(base: Path, dag_id: str, run_id: str) -> Path:
    """``<base>/dag_id=<id>/run_id=<id>/dag_callback.log``: a run's DAG callbacks."""
    parts = [f"dag_id={dag_id}", f"run_id={run_id}"]
    return base.joinpath(*(_safe(part) for part in parts)) / "dag_callback.log"


def _safe(part: str) -> str:
    # Ids cannot hold a path separator, but a run id given by a person might: keep every
    # log file inside the base folder.
    return part.replace(os.sep, "%2F").replace("\0", "")


class _TaskLogFormatter(logging.Formatter):
    """Times in ISO 8601 UTC with milliseconds, as every stored time is UTC; secrets the
    task has read masked in the whole line, its traceback included."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))


class MaskingStream:
    """A text stream as ``print`` sees it (the log file, a terminal): what is written goes
    through the masker."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(mask_text(text))
        return len(text)

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


@contextlib.contextmanager
def capture_to_log(path: Path, level: str = "INFO") -> Iterator[TextIO]:
    """Send logging, ``sys.stdout``/``sys.stderr`` and file descriptors 1 and 2 to ``path``
    (appended: a rescheduled sensor's pokes share one try's file) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", buffering=1, encoding="utf-8", errors="replace") as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(_TaskLogFormatter(LOG_FORMAT))
        root = logging.getLogger()
        saved_level, saved_handlers = root.level, root.handlers[:]
        # The process's own handlers (standalone's stderr one) would write each line into
        # the log a second time, through the redirected descriptor 2: set them aside.
        root.handlers = [handler]
        root.setLevel(level)
        try:
            with _descriptors_to(stream), _streams_to(MaskingStream(stream)):  # type: ignore[arg-type]
                yield stream
        finally:
            root.handlers = saved_handlers
            root.setLevel(saved_level)
            handler.close()


@contextlib.contextmanager
def _descriptors_to(stream: TextIO) -> Iterator[None]:
    """Point descriptors 1 and 2 at ``stream``'s file, then back."""
    for std in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            std.flush()
    saved = [os.dup(fd) for fd in (1, 2)]
    try:
        for fd in (1, 2):
            os.dup2(stream.fileno(), fd)
        yield
    finally:
        for std in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                std.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


@contextlib.contextmanager
def _streams_to(stream: TextIO) -> Iterator[None]:
    """Python-level ``print`` goes to the line-buffered log stream, in order with logging."""
    with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
        yield
