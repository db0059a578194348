"""Writing a batch of parsed files to the store: who owns each dag_id, what changed, next runs.

One call writes one batch in the caller's transaction, a few bulk statements per table.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from sluice.core.errors import SluiceError
from sluice.parsing.checks import DagIdOwners
from sluice.parsing.import_errors import ImportErrorInfo, check_error, combine_errors
from sluice.parsing.serialize import deserialize_dag
from sluice.processor.parse_file import ParsedDag, ParsedFile, next_run, schedule_key
from sluice.processor.scan import FileState
from sluice.store import dags as store
from sluice.store.dags import FileRecord, ImportErrorRecord, KnownDag, KnownFile, NextRun

log = logging.getLogger(__name__)


@dataclass
class BatchOutcome:
    """What a batch changed."""

    added: list[str] = field(default_factory=list)
    """dag_ids seen for the first time (or again after being inactive)."""
    updated: list[str] = field(default_factory=list)
    """Known dag_ids whose serialized form changed."""
    deactivated: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    """Import error message by file."""


def record_batch(
    session: Session,
    *,
    parsed: Sequence[ParsedFile],
    states: Mapping[str, FileState],
    removed: Sequence[KnownFile],
    present: Collection[str],
    known_files: Mapping[str, KnownFile],
    paused_at_creation: bool,
    now: datetime,
) -> BatchOutcome:
    """Write parsed files and removed files; return what changed.

    A dag_id defined by two files stays with the file that had it (or, among files new in
    this batch, the first in path order); the other file gets the import error, as
    ``load_dag_bag`` reports it. DAGs a cleanly imported file no longer defines, and DAGs
    of removed files, become inactive; a file that failed to import keeps its DAGs active
    with their last good version, flagged with import errors, until it is fixed.
    """
    known = store.known_dags(session)
    batch = sorted(parsed, key=lambda p: p.path)
    kept, errors = _settle_owners(batch, known, present)
    records = [d.record for d in kept.values()]
    outcome = BatchOutcome(errors={path: error.message for path, error in errors.items()})

    hashes = store.serialized_hashes(session, kept)
    revived = [i for i in kept if i not in known or not known[i].is_active]
    changed = [i for i in kept if i in hashes and hashes[i] != kept[i].record.dag_hash]
    rescheduled = set(revived) | _schedule_changed(session, kept, changed, known)
    store.upsert_dags(
        session, records, known=known, paused_at_creation=paused_at_creation, parsed_at=now
    )
    store.upsert_serialized(session, records, stored_hashes=hashes, updated_at=now)
    store.set_next_runs(session, _next_runs(session, kept, rescheduled, now))
    outcome.added = revived
    outcome.updated = [i for i in changed if i not in revived]

    outcome.deactivated = _gone(batch, errors, removed, known, kept)
    store.deactivate_dags(session, outcome.deactivated)
    store.set_import_error_flags(session, _error_flags(batch, errors, known, kept, outcome))
    store.upsert_files(
        session,
        [_file_record(p, states[p.path], kept, errors.get(p.path)) for p in batch],
        known=known_files,
        parsed_at=now,
    )
    store.mark_files_absent(session, removed)
    return outcome


def _settle_owners(
    batch: Sequence[ParsedFile], known: Mapping[str, KnownDag], present: Collection[str]
) -> tuple[dict[str, ParsedDag], dict[str, ImportErrorInfo]]:
    """The DAGs each file keeps, by dag_id, and each file's (combined) import error."""
    owners = DagIdOwners()
    in_batch = {p.path for p in batch}
    for row in known.values():
        # Files left unparsed keep their dag_ids: they defined them first.
        if row.is_active and row.fileloc in present and row.fileloc not in in_batch:
            owners.claim(row.dag_id, row.fileloc, row.fileloc)
    kept: dict[str, ParsedDag] = {}
    errors: dict[str, ImportErrorInfo] = {}
    for parsed in batch:
        problems = [parsed.error] if parsed.error else []
        for dag in parsed.dags:
            duplicate = owners.claim(dag.record.dag_id, parsed.path, parsed.path)
            if duplicate is None:
                kept[dag.record.dag_id] = dag
            else:
                problems.append(
                    check_error(parsed.path, parsed.path, None, duplicate, dag.record.dag_id)
                )
        if problems:
            errors[parsed.path] = combine_errors(problems)
    return kept, errors


def _schedule_changed(
    session: Session,
    kept: Mapping[str, ParsedDag],
    changed: Sequence[str],
    known: Mapping[str, KnownDag],
) -> set[str]:
    """The active DAGs among ``changed`` whose timetable or its bounds changed."""
    candidates = [i for i in changed if i in known and known[i].is_active]
    old = store.serialized_data(session, candidates)
    moved: set[str] = set()
    for dag_id in candidates:
        try:
            before = schedule_key(deserialize_dag(old[dag_id]))
        except (KeyError, SluiceError):
            before = None  # unreadable (an older format): compute afresh
        if before != kept[dag_id].schedule_key:
            moved.add(dag_id)
    return moved


def _next_runs(
    session: Session, kept: Mapping[str, ParsedDag], dag_ids: Collection[str], now: datetime
) -> dict[str, NextRun]:
    """Each DAG's next run: after its latest automated run, else its first run."""
    intervals = store.latest_automated_intervals(session, dag_ids)
    runs: dict[str, NextRun] = {}
    for dag_id in dag_ids:
        parsed = kept[dag_id]
        interval = intervals.get(dag_id)
        if interval is None:
            runs[dag_id] = parsed.first_run
        else:
            runs[dag_id] = next_run(deserialize_dag(parsed.record.data), interval, now)
    return runs


def _gone(
    batch: Sequence[ParsedFile],
    errors: Mapping[str, ImportErrorInfo],
    removed: Sequence[KnownFile],
    known: Mapping[str, KnownDag],
    kept: Mapping[str, ParsedDag],
) -> list[str]:
    """Active DAGs whose file is removed, or imported cleanly without defining them."""
    emptied = {p.path for p in batch if p.path not in errors} | {f.path for f in removed}
    return sorted(
        dag.dag_id
        for dag in known.values()
        if dag.is_active and dag.fileloc in emptied and dag.dag_id not in kept
    )


def _error_flags(
    batch: Sequence[ParsedFile],
    errors: Mapping[str, ImportErrorInfo],
    known: Mapping[str, KnownDag],
    kept: Mapping[str, ParsedDag],
    outcome: BatchOutcome,
) -> dict[str, bool]:
    """dag.has_import_errors for every active DAG of a parsed file."""
    files = {dag.dag_id: dag.fileloc for dag in known.values() if dag.is_active}
    files.update((dag_id, dag.record.fileloc) for dag_id, dag in kept.items())
    for dag_id in outcome.deactivated:
        files.pop(dag_id, None)
    in_batch = {p.path for p in batch}
    return {dag_id: fileloc in errors for dag_id, fileloc in files.items() if fileloc in in_batch}


def _file_record(
    parsed: ParsedFile,
    state: FileState,
    kept: Mapping[str, ParsedDag],
    error: ImportErrorInfo | None,
) -> FileRecord:
    mine = [d for d in parsed.dags if kept.get(d.record.dag_id) is d]
    return FileRecord(
        path=parsed.path,
        mtime=state.mtime,
        content_hash=state.fingerprint,
        duration=parsed.duration,
        dag_count=len(mine),
        task_count=sum(d.task_count for d in mine),
        error=None
        if error is None
        else ImportErrorRecord(
            filename=error.file,
            line=error.line,
            message=error.message,
            stacktrace=error.traceback,
            dag_id=error.dag_id,
        ),
    )
