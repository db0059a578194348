"""Reading a task try's log file, safely.

A log's location comes only from the try's stored ``task_try.log_path``, never from a
request. Even that is checked: resolved (symlinks followed) it must lie inside the logs
folder, and it must be a regular file, opened without following a last-moment symlink.
A try whose file does not exist yet (queued, just starting) has an empty log.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from sluice.api.problems import ApiError
from sluice.core.states import TaskInstanceState
from sluice.integrations.masking import SecretsMasker
from sluice.store.tables import TaskInstance, TaskTry
from sluice.store.ti_listings import get_try

MAX_CHUNK = 256 * 1024
"""Most bytes one read returns: a long log comes in pieces, the next read from ``offset``."""
_STREAM_BLOCK = 64 * 1024

S = TaskInstanceState
_WILL_RUN = frozenset(
    {None, S.SCHEDULED.value, S.QUEUED.value, S.UP_FOR_RETRY.value, S.RESTARTING.value}
)
"""Instance states from which the instance's next try is still to start."""
_STILL_WRITING = frozenset({S.RUNNING.value, S.UP_FOR_RESCHEDULE.value})
"""Try states whose log may still grow."""


@dataclass(frozen=True)
class LogChunk:
    """A piece of a try's log."""

    content: str
    offset: int
    """Where the next read starts (bytes)."""
    finished: bool
    """The try is over and this piece reaches the end of its log: stop tailing."""


def try_is_over(ti: TaskInstance, tried: TaskTry | None, try_number: int) -> bool:
    """Whether a try's log can grow no more: its try ended, or it will never start."""
    if tried is not None:
        # A rescheduled sensor's next poke goes on in the same try (and log).
        return tried.state not in _STILL_WRITING
    if try_number == ti.try_number:
        return ti.state not in _STILL_WRITING  # Started; its row is being written.
    return not (try_number == ti.try_number + 1 and ti.state in _WILL_RUN)


def try_log_file(log_folder: Path, tried: TaskTry | None) -> Path | None:
    """The try's log file, resolved; None when the try has no log location yet.

    Raises ApiError 403 when the stored location lies outside ``log_folder`` (which must be
    resolved already), whatever way it gets there (``..``, an absolute path, a symlink).
    """
    if tried is None or not tried.log_path:
        return None
    if "\0" in tried.log_path:
        raise ApiError(403, f"the log of try {tried.try_number} has an invalid stored location")
    # A relative location is relative to the logs folder (an absolute one stays as it is).
    resolved = (log_folder / tried.log_path).resolve()
    if not resolved.is_relative_to(log_folder):
        raise ApiError(
            403,
            f"the log of try {tried.try_number} of task '{tried.task_id}' is stored outside"
            " the logs folder; it is not served",
        )
    return resolved


@dataclass(frozen=True)
class TryLog:
    """Where a try's log is (None: nowhere yet) and whether it can still grow."""

    path: Path | None
    over: bool


def find_try_log(session: Session, log_folder: Path, ti: TaskInstance, try_number: int) -> TryLog:
    """The log of one try of ``ti``: 404 when the instance never reaches that try, 403 when
    its stored location is outside ``log_folder``."""
    tried = get_try(session, ti, try_number)
    over = try_is_over(ti, tried, try_number)
    if tried is None and over and try_number > ti.try_number:
        latest = f"its latest try is {ti.try_number}" if ti.try_number else "it has not run yet"
        raise ApiError(404, f"task '{ti.task_id}' has no try {try_number}: {latest}")
    return TryLog(path=try_log_file(log_folder, tried), over=over)


def _open(path: Path) -> int | None:
    """A descriptor of the regular file at ``path``; None when it does not exist (yet)."""
    # O_NOFOLLOW: a symlink put in place after the check is refused; O_NONBLOCK: a FIFO
    # cannot hang the request (it is refused below as not a regular file).
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ApiError(403, "the log file is a symbolic link; it is not served") from None
        raise ApiError(500, f"the log file cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ApiError(403, "the log location is not a regular file; it is not served")
    return fd


MASK_CONTEXT = 4096
"""Bytes read on each side of a piece of log, so that a secret cut by the piece's ends is
still recognised and masked."""


def read_log(
    path: Path | None,
    offset: int,
    *,
    over: bool,
    masker: SecretsMasker,
    max_bytes: int = MAX_CHUNK,
) -> LogChunk:
    """Up to ``max_bytes`` of the log from byte ``offset``, cut at a whole UTF-8 character,
    with the secrets ``masker`` knows masked (also one the piece's ends cut in two).

    ``over``: the try has ended, so reaching the end of the file finishes the log.
    """
    fd = _open(path) if path is not None else None
    if fd is None:
        return LogChunk(content="", offset=offset, finished=over)
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        start = min(offset, size)
        lead = min(start, MASK_CONTEXT)
        handle.seek(start - lead)
        before = handle.read(lead)
        data = handle.read(max_bytes)
        after = handle.read(MASK_CONTEXT)
    at_end = start + len(data) >= size
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(data, final=over and at_end)
    pending = len(decoder.getstate()[0])  # A character split by the cut: read it next time.
    around_before = before.decode("utf-8", errors="replace")
    around_after = (data[len(data) - pending :] + after).decode("utf-8", errors="replace")
    whole = around_before + text + around_after
    content = masker.mask_slice(whole, len(around_before), len(around_before) + len(text))
    return LogChunk(content=content, offset=start + len(data) - pending, finished=over and at_end)


def stream_log(path: Path | None, masker: SecretsMasker) -> Iterator[bytes]:
    """The whole log file, in blocks of whole lines with the secrets ``masker`` knows
    masked (nothing when it does not exist yet)."""
    fd = _open(path) if path is not None else None
    if fd is None:
        return
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    rest = ""
    with os.fdopen(fd, "rb") as handle:
        while block := handle.read(_STREAM_BLOCK):
            text = rest + decoder.decode(block)
            # Masked a line at a time, so that no secret is cut in two between blocks.
            cut = text.rfind("\n") + 1
            rest = text[cut:]
            if cut:
                yield masker.mask_text(text[:cut]).encode()
    rest += decoder.decode(b"", final=True)
    if rest:
        yield masker.mask_text(rest).encode()
