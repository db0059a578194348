"""The DAG processor: scans the DAGs folders and keeps the store in step with the files.

Each scan lists the files and stats them; only files that are new, changed (stat, then
content hash) or whose stored row says otherwise are imported, in warm parsing processes;
the results of a scan go to the store in one transaction. The processor never runs tasks.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError

from sluice.core.errors import SluiceError
from sluice.processor.options import ProcessorOptions
from sluice.processor.parse_file import ParsedFile
from sluice.processor.pool import ParserPool
from sluice.processor.record import BatchOutcome, record_batch
from sluice.processor.scan import FileScanner, FileState
from sluice.store import jobs
from sluice.store.dags import KnownFile, known_files
from sluice.store.engine import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessorReport:
    """What one scan found and changed."""

    files: int
    """DAG files present."""
    parsed: tuple[str, ...] = ()
    """Files imported by this scan (new or changed)."""
    removed: tuple[str, ...] = ()
    """Files gone since the last scan."""
    added: tuple[str, ...] = ()
    """DAGs new, or active again."""
    updated: tuple[str, ...] = ()
    """DAGs whose serialized form changed."""
    deactivated: tuple[str, ...] = ()
    errors: Mapping[str, str] = field(default_factory=dict)
    """Import error message by file, for the files this scan imported."""
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        """Whether the scan imported or removed anything."""
        return bool(self.parsed or self.removed)

    def summary(self) -> str:
        """One line for people: what the scan did and how long it took."""
        if not self.changed:
            return f"No changes in {_count(self.files, 'DAG file')} ({self.seconds:.2f} s)"
        parts = [f"{len(self.added)} added", f"{len(self.updated)} updated"]
        if self.deactivated:
            parts.append(f"{len(self.deactivated)} deactivated")
        text = (
            f"Parsed {len(self.parsed)} of {_count(self.files, 'DAG file')} in"
            f" {self.seconds:.2f} s: DAGs {', '.join(parts)}"
        )
        if self.errors:
            text += f"; {_count(len(self.errors), 'import error')}"
        if self.removed:
            text += f"; {_count(len(self.removed), 'file')} removed"
        return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class DagProcessor:
    """Parses the DAG files of ``options.folders`` into ``store``; use as a context manager."""

    def __init__(self, options: ProcessorOptions, store: Store) -> None:
        self.options = options
        self._store = store
        self._scanner = FileScanner(
            options.folders, safe_mode=options.safe_mode, salt=options.parse.fingerprint_salt()
        )
        self._pool = ParserPool(options.parsing_processes, options.parse)
        self.files_imported = 0
        """How many file imports this processor has made (a file imported twice counts twice)."""

    def __enter__(self) -> DagProcessor:
        self._pool.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the parsing processes."""
        self._pool.close()

    def run_once(self, now: datetime | None = None) -> ProcessorReport:
        """Scan once: import what changed and write it; ``now`` stamps the rows (default: now).

        Raises ParsingError when a folder cannot be scanned (nothing is written then).
        """
        started = time.perf_counter()
        now = now or datetime.now(UTC)
        present = self._scanner.scan()
        with self._store.transaction() as session:
            known = known_files(session)
        stale = [path for path, state in present.items() if _is_stale(known.get(path), state)]
        removed = [f for f in known.values() if f.is_present and f.path not in present]
        if not stale and not removed:
            return ProcessorReport(len(present), seconds=time.perf_counter() - started)

        parsed, outcome = self._parse_and_record(stale, removed, present, known, now)
        if outcome.deactivated:
            # A dag_id let go may now belong to a file that was refused it as a duplicate.
            retry = [
                f.path
                for f in known.values()
                if f.has_error and f.path in present and f.path not in stale
            ]
            if retry:
                with self._store.transaction() as session:
                    known = known_files(session)
                more, again = self._parse_and_record(retry, [], present, known, now)
                parsed += more
                outcome.added += again.added
                outcome.updated += again.updated
                outcome.deactivated += again.deactivated
                outcome.errors.update(again.errors)
        return ProcessorReport(
            files=len(present),
            parsed=tuple(p.path for p in parsed),
            removed=tuple(f.path for f in removed),
            added=tuple(outcome.added),
            updated=tuple(outcome.updated),
            deactivated=tuple(outcome.deactivated),
            errors=outcome.errors,
            seconds=time.perf_counter() - started,
        )

    def _parse_and_record(
        self,
        paths: Sequence[str],
        removed: Sequence[KnownFile],
        present: Mapping[str, FileState],
        known: Mapping[str, KnownFile],
        now: datetime,
    ) -> tuple[list[ParsedFile], BatchOutcome]:
        results = self._pool.parse(paths, now) if paths else {}
        self.files_imported += len(results)
        parsed: list[ParsedFile] = []
        for path in paths:
            result = results[path]
            if result.missing:
                self._scanner.forget(path)  # deleted meanwhile: the next scan sees it gone
                continue
            for warning in result.warnings:
                log.warning("%s", warning)
            parsed.append(result)
        with self._store.transaction() as session:
            outcome = record_batch(
                session,
                parsed=parsed,
                states=present,
                removed=removed,
                present=present.keys(),
                known_files=known,
                paused_at_creation=self.options.paused_at_creation,
                now=now,
            )
        return parsed, outcome

    def run_forever(
        self,
        stop: threading.Event,
        *,
        on_report: Callable[[ProcessorReport], None] | None = None,
    ) -> None:
        """Scan every ``refresh_interval`` seconds until ``stop`` is set, as job 'dag_processor'.

        The first scan's failure (a DAGs folder that is missing) is raised before the job
        is registered; a later scan that fails (a folder gone for a while, the database
        away) is logged and tried again at the next interval, and changes nothing.
        """
        self._pool.start()
        self._report(self.run_once(), on_report)
        job_id = self._register()
        beat = time.monotonic()
        failed = True
        try:
            while not stop.wait(self.options.refresh_interval):
                try:
                    self._report(self.run_once(), on_report)
                except (SluiceError, SQLAlchemyError) as exc:
                    log.error("DAG processor scan failed: %s", exc)
                if (
                    job_id is not None
                    and time.monotonic() - beat >= self.options.heartbeat_interval
                ):
                    beat = time.monotonic()
                    self._heartbeat(job_id)
            failed = False
        finally:
            if job_id is not None:
                self._end(job_id, failed=failed)

    @staticmethod
    def _report(
        report: ProcessorReport, on_report: Callable[[ProcessorReport], None] | None
    ) -> None:
        if on_report is not None:
            on_report(report)

    def _register(self) -> int | None:
        try:
            with self._store.transaction() as session:
                return jobs.register_job(
                    session, jobs.DAG_PROCESSOR, socket.gethostname(), os.getpid()
                )
        except SQLAlchemyError as exc:
            log.error("cannot register the DAG processor job: %s", exc)
            return None

    def _heartbeat(self, job_id: int) -> None:
        try:
            with self._store.transaction() as session:
                if not jobs.heartbeat_job(session, job_id):
                    log.warning("DAG processor job %s was marked ended by another process", job_id)
        except SQLAlchemyError as exc:
            log.error("DAG processor heartbeat failed: %s", exc)

    def _end(self, job_id: int, *, failed: bool) -> None:
        try:
            with self._store.transaction() as session:
                jobs.end_job(session, job_id, failed=failed)
        except SQLAlchemyError as exc:
            log.error("cannot record the end of the DAG processor job: %s", exc)


def _is_stale(known: KnownFile | None, state: FileState) -> bool:
    """Whether a file must be imported: new, back after removal, or changed since stored."""
    return known is None or not known.is_present or known.content_hash != state.fingerprint
