"""Warm parsing processes: forked once, each importing one DAG file at a time.

Each process gets requests and sends back plain ``ParsedFile`` data over a pipe of its own,
so that the processor always knows which file a process is on: a process that outlives the
file's time limit (user code that blocks SIGALRM) or dies (``os._exit``, a crash in a C
extension) is killed and replaced, and only that file gets an import error.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import pickle
import signal
import time
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import connection, get_context
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from sluice.parsing.import_errors import check_error
from sluice.processor.options import ParseOptions
from sluice.processor.parse_file import ParsedFile, parse_file

log = logging.getLogger(__name__)

# Beyond the import's own time limit (enforced inside the process with SIGALRM), the time
# checking and serializing may take before the process counts as stuck.
_GRACE = 30.0


def _serve(conn: Connection, options: ParseOptions) -> None:
    """A parsing process's loop: a path and a time in, a ParsedFile out, until told to stop."""
    # Ctrl-C reaches the whole process group; the processor decides when its children stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # What the fork inherited stays out of garbage collection: collections stay short, and
    # the parent's memory pages stay shared instead of being copied as they are touched.
    gc.freeze()
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        path, now = request
        conn.send(parse_file(path, options, now))


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    path: str | None = None
    deadline: float | None = None


class ParserPool:
    """``processes`` warm parsing processes (started on first use, or by ``start``)."""

    def __init__(self, processes: int, options: ParseOptions, *, grace: float = _GRACE) -> None:
        self._size = max(1, processes)
        self._options = options
        self._grace = grace
        self._context = get_context("fork")
        self._workers: list[_Worker] = []

    def start(self) -> None:
        """Fork the parsing processes, if they are not running yet."""
        while len(self._workers) < self._size:
            self._workers.append(self._spawn())

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_serve, args=(child, self._options), name="sluice-parser", daemon=True
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    def parse(self, paths: Sequence[str], now: datetime) -> dict[str, ParsedFile]:
        """Parse these files, as many at once as there are processes; results by path."""
        self.start()
        todo = deque(paths)
        results: dict[str, ParsedFile] = {}
        while todo or any(w.path for w in self._workers):
            for worker in self._workers:
                if worker.path is None and todo:
                    self._send(worker, todo.popleft(), now)
            busy = [w for w in self._workers if w.path is not None]
            waits = [w.deadline - time.monotonic() for w in busy if w.deadline is not None]
            timeout = max(0.0, min(waits)) if waits else None
            ready = connection.wait(
                [w.conn for w in busy] + [w.process.sentinel for w in busy], timeout
            )
            for worker in busy:
                result = self._collect(worker, ready)
                if result is not None:
                    results[result.path] = result
        return results

    def _send(self, worker: _Worker, path: str, now: datetime) -> None:
        worker.path = path
        limit = self._options.import_timeout
        worker.deadline = time.monotonic() + limit + self._grace if limit > 0 else None
        worker.conn.send((path, now))

    def _collect(self, worker: _Worker, ready: Collection[object]) -> ParsedFile | None:
        """The worker's result if it has one; a replaced worker and an error if it failed."""
        path = worker.path
        assert path is not None
        if worker.conn in ready:
            try:
                result: ParsedFile = worker.conn.recv()
            except (EOFError, OSError, pickle.UnpicklingError):
                pass  # it died mid-answer; its sentinel says so below
            else:
                worker.path = worker.deadline = None
                return result
        if worker.process.sentinel in ready or not worker.process.is_alive():
            worker.process.join(1.0)
            why = f"the parsing process died (exit code {worker.process.exitcode})"
        elif worker.deadline is not None and time.monotonic() >= worker.deadline:
            why = (
                f"DAG file took longer than {self._options.import_timeout:g} s to import"
                " and ignored the time limit; its parsing process was killed"
            )
        else:
            return None
        log.error("%s: %s", path, why)
        self._replace(worker)
        return ParsedFile(path, 0.0, error=check_error(path, path, None, why, None))

    def _replace(self, worker: _Worker) -> None:
        _stop(worker, kill=True)
        fresh = self._spawn()
        worker.process, worker.conn = fresh.process, fresh.conn
        worker.path = worker.deadline = None

    def close(self) -> None:
        """Stop every parsing process."""
        workers, self._workers = self._workers, []
        for worker in workers:
            _stop(worker, kill=False)


def _stop(worker: _Worker, *, kill: bool) -> None:
    if not kill and worker.process.is_alive():
        with contextlib.suppress(OSError):
            worker.conn.send(None)
        worker.process.join(2.0)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join(2.0)
    worker.conn.close()
    worker.process.close()
