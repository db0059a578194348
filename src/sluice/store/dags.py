"""Queries and writes of the parsed DAGs: the dag, serialized_dag, dag_file and import_error tables.

The DAG processor is the writer; the scheduler and the web server read. Writes take plain
data (the store knows nothing of DAG objects) and go in bulk, a statement per table, so
that a batch of hundreds of files costs a handful of round trips, in the caller's
transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from sluice.store.tables import Dag, DagFile, DagRun, ImportErrorRow, SerializedDagRow

AUTOMATED_RUN_TYPES = ("scheduled", "backfill")
"""Runs the timetable made: the next automated run follows the latest of these."""

# Bound parameters per IN (...) list: SQLite allows 32,766 per statement, the others more.
_CHUNK = 500


@dataclass(frozen=True)
class DagRecord:
    """What a parse says about one DAG: its dag row's fields and its serialized form."""

    dag_id: str
    fileloc: str
    owners: str
    tags: tuple[str, ...]
    description: str | None
    schedule: str
    timetable_description: str
    max_active_runs: int
    max_active_tasks: int
    is_paused_upon_creation: bool | None
    data: str
    """The canonical JSON of the serialized DAG."""
    dag_hash: str


@dataclass(frozen=True)
class NextRun:
    """A DAG's next automated run; all None when it has none (no schedule, past end_date)."""

    logical_date: datetime | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    create_after: datetime | None = None


@dataclass(frozen=True)
class ImportErrorRecord:
    """Why a DAG file, or a DAG in it, failed to load."""

    filename: str
    line: int | None
    message: str
    stacktrace: str
    dag_id: str | None = None


@dataclass(frozen=True)
class FileRecord:
    """A DAG file as one parse saw it."""

    path: str
    mtime: float
    content_hash: str
    duration: float
    dag_count: int
    task_count: int
    error: ImportErrorRecord | None


@dataclass(frozen=True)
class KnownFile:
    """A dag_file row as the processor compares against it."""

    id: int
    path: str
    content_hash: str
    has_error: bool
    is_present: bool


@dataclass(frozen=True)
class KnownDag:
    """A dag row's fields that decide ownership and whether it is new."""

    dag_id: str
    fileloc: str
    is_active: bool


@dataclass(frozen=True)
class FileReport:
    """One line of ``sluice dags report``."""

    path: str
    duration: float
    dag_count: int
    task_count: int
    has_error: bool
    error: str | None
    dag_ids: tuple[str, ...]
    last_parsed_at: datetime


def path_hash(path: str) -> str:
    """The sha256 of a file's path: the indexed key of dag_file and import_error rows."""
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


# -- reads ---------------------------------------------------------------------------------


def known_files(session: Session) -> dict[str, KnownFile]:
    """Every dag_file row, by path."""
    rows = session.execute(
        select(
            DagFile.id, DagFile.path, DagFile.content_hash, DagFile.has_error, DagFile.is_present
        )
    )
    return {
        row.path: KnownFile(row.id, row.path, row.content_hash, row.has_error, row.is_present)
        for row in rows
    }


def known_dags(session: Session) -> dict[str, KnownDag]:
    """Every dag row's id, file and whether it is active, by dag_id."""
    rows = session.execute(select(Dag.dag_id, Dag.fileloc, Dag.is_active))
    return {row.dag_id: KnownDag(row.dag_id, row.fileloc, row.is_active) for row in rows}


def serialized_hashes(session: Session, dag_ids: Collection[str]) -> dict[str, str]:
    """The stored dag_hash of each of these DAGs that has a serialized row."""
    return _serialized_column(session, SerializedDagRow.dag_hash, dag_ids)


def serialized_data(session: Session, dag_ids: Collection[str]) -> dict[str, str]:
    """The stored serialized JSON of each of these DAGs that has one."""
    return _serialized_column(session, SerializedDagRow.data, dag_ids)


def _serialized_column(
    session: Session, column: InstrumentedAttribute[str], dag_ids: Collection[str]
) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(sorted(dag_ids)):
        query = select(SerializedDagRow.dag_id, column).where(SerializedDagRow.dag_id.in_(chunk))
        found.update((key, value) for key, value in session.execute(query))
    return found


def latest_automated_intervals(
    session: Session, dag_ids: Collection[str]
) -> dict[str, tuple[datetime, datetime]]:
    """The data interval of each DAG's latest scheduled or backfill run, for those with one.

    The next automated run follows it (Airflow's "last automated data interval"); manual
    runs do not move the schedule.
    """
    found: dict[str, tuple[datetime, datetime]] = {}
    for chunk in _chunks(sorted(dag_ids)):
        latest = (
            select(DagRun.dag_id, func.max(DagRun.logical_date).label("logical_date"))
            .where(DagRun.dag_id.in_(chunk), DagRun.run_type.in_(AUTOMATED_RUN_TYPES))
            .group_by(DagRun.dag_id)
            .subquery()
        )
        query = select(DagRun.dag_id, DagRun.data_interval_start, DagRun.data_interval_end).join(
            latest,
            (DagRun.dag_id == latest.c.dag_id) & (DagRun.logical_date == latest.c.logical_date),
        )
        for row in session.execute(query):
            if row.data_interval_start is not None and row.data_interval_end is not None:
                found[row.dag_id] = (row.data_interval_start, row.data_interval_end)
    return found


def file_reports(session: Session) -> list[FileReport]:
    """Every present DAG file with its parse figures and DAG ids, slowest first."""
    files = session.execute(
        select(DagFile)
        .where(DagFile.is_present.is_(True))
        .order_by(DagFile.duration.desc(), DagFile.path)
    ).scalars()
    dags: dict[str, list[str]] = {}
    for dag_id, fileloc in session.execute(
        select(Dag.dag_id, Dag.fileloc).where(Dag.is_active.is_(True)).order_by(Dag.dag_id)
    ):
        dags.setdefault(fileloc, []).append(dag_id)
    errors = {
        row.path_hash: row.message
        for row in session.execute(select(ImportErrorRow.path_hash, ImportErrorRow.message))
    }
    return [
        FileReport(
            path=file.path,
            duration=file.duration,
            dag_count=file.dag_count,
            task_count=file.task_count,
            has_error=file.has_error,
            error=errors.get(file.path_hash),
            dag_ids=tuple(dags.get(file.path, ())),
            last_parsed_at=file.last_parsed_at,
        )
        for file in files
    ]


# -- writes --------------------------------------------------------------------------------


def upsert_dags(
    session: Session,
    records: Sequence[DagRecord],
    *,
    known: Mapping[str, KnownDag],
    paused_at_creation: bool,
    parsed_at: datetime,
) -> None:
    """Insert new dag rows (paused per the DAG, else per ``paused_at_creation``), update others.

    Updated rows keep their paused flag and become active again.
    """
    new = [r for r in records if r.dag_id not in known]
    old = [r for r in records if r.dag_id in known]
    if new:
        session.execute(
            insert(Dag),
            [
                {
                    **_dag_values(r, parsed_at),
                    "dag_id": r.dag_id,
                    "is_paused": (
                        paused_at_creation
                        if r.is_paused_upon_creation is None
                        else r.is_paused_upon_creation
                    ),
                }
                for r in new
            ],
        )
    if old:
        session.execute(
            update(Dag), [{**_dag_values(r, parsed_at), "dag_id": r.dag_id} for r in old]
        )


def _dag_values(record: DagRecord, parsed_at: datetime) -> dict[str, object]:
    return {
        "fileloc": record.fileloc,
        "is_active": True,
        "owners": record.owners[:2000],
        "tags": json.dumps(list(record.tags)),
        "description": record.description,
        "schedule": record.schedule[:1000],
        "timetable_description": record.timetable_description[:1000],
        "max_active_runs": record.max_active_runs,
        "max_active_tasks": record.max_active_tasks,
        "last_parsed_at": parsed_at,
    }


def upsert_serialized(
    session: Session,
    records: Sequence[DagRecord],
    *,
    stored_hashes: Mapping[str, str],
    updated_at: datetime,
) -> list[str]:
    """Write the serialized DAGs whose hash changed (or that have none); return their ids."""
    new = [r for r in records if r.dag_id not in stored_hashes]
    changed = [
        r for r in records if r.dag_id in stored_hashes and stored_hashes[r.dag_id] != r.dag_hash
    ]
    if new:
        session.execute(insert(SerializedDagRow), [_serialized_values(r, updated_at) for r in new])
    if changed:
        session.execute(
            update(SerializedDagRow), [_serialized_values(r, updated_at) for r in changed]
        )
    return [r.dag_id for r in (*new, *changed)]


def _serialized_values(record: DagRecord, updated_at: datetime) -> dict[str, object]:
    return {
        "dag_id": record.dag_id,
        "fileloc": record.fileloc,
        "data": record.data,
        "dag_hash": record.dag_hash,
        "updated_at": updated_at,
    }


def set_next_runs(session: Session, next_runs: Mapping[str, NextRun]) -> None:
    """Write the next-run fields of these DAGs."""
    if not next_runs:
        return
    session.execute(
        update(Dag),
        [
            {
                "dag_id": dag_id,
                "next_dagrun": run.logical_date,
                "next_dagrun_data_interval_start": run.data_interval_start,
                "next_dagrun_data_interval_end": run.data_interval_end,
                "next_dagrun_create_after": run.create_after,
            }
            for dag_id, run in next_runs.items()
        ],
    )


def set_import_error_flags(session: Session, flags: Mapping[str, bool]) -> None:
    """Set dag.has_import_errors of these DAGs (by dag_id)."""
    if flags:
        session.execute(
            update(Dag),
            [{"dag_id": dag_id, "has_import_errors": flag} for dag_id, flag in flags.items()],
        )


def deactivate_dags(session: Session, dag_ids: Collection[str]) -> None:
    """Mark DAGs inactive: their file or definition is gone; rows and history stay."""
    for chunk in _chunks(sorted(dag_ids)):
        session.execute(
            update(Dag)
            .where(Dag.dag_id.in_(chunk))
            .values(is_active=False, has_import_errors=False)
            .execution_options(synchronize_session=False)
        )


def upsert_files(
    session: Session,
    records: Sequence[FileRecord],
    *,
    known: Mapping[str, KnownFile],
    parsed_at: datetime,
) -> None:
    """Write the dag_file rows of freshly parsed files, present, and their import errors.

    A file's import error rows are replaced by the new one, or deleted when it has none.
    """
    if not records:
        return
    hashes = [path_hash(r.path) for r in records]
    for chunk in _chunks(hashes):
        session.execute(
            delete(ImportErrorRow)
            .where(ImportErrorRow.path_hash.in_(chunk))
            .execution_options(synchronize_session=False)
        )
    errors = [
        {
            "filename": r.error.filename,
            "path_hash": hashed,
            "line": r.error.line,
            "message": r.error.message,
            "stacktrace": r.error.stacktrace,
            "dag_id": r.error.dag_id,
            "timestamp": parsed_at,
        }
        for r, hashed in zip(records, hashes, strict=True)
        if r.error is not None
    ]
    if errors:
        session.execute(insert(ImportErrorRow), errors)

    def values(record: FileRecord, hashed: str) -> dict[str, object]:
        return {
            "path": record.path,
            "path_hash": hashed,
            "mtime": record.mtime,
            "content_hash": record.content_hash,
            "last_parsed_at": parsed_at,
            "duration": record.duration,
            "dag_count": record.dag_count,
            "task_count": record.task_count,
            "has_error": record.error is not None,
            "is_present": True,
        }

    pairs = list(zip(records, hashes, strict=True))
    new = [values(r, h) for r, h in pairs if r.path not in known]
    old = [{**values(r, h), "id": known[r.path].id} for r, h in pairs if r.path in known]
    if new:
        session.execute(insert(DagFile), new)
    if old:
        session.execute(update(DagFile), old)


def mark_files_absent(session: Session, files: Sequence[KnownFile]) -> None:
    """Files no longer found: kept as rows (not present), their import errors deleted."""
    if not files:
        return
    session.execute(update(DagFile), [{"id": f.id, "is_present": False} for f in files])
    for chunk in _chunks([path_hash(f.path) for f in files]):
        session.execute(
            delete(ImportErrorRow)
            .where(ImportErrorRow.path_hash.in_(chunk))
            .execution_options(synchronize_session=False)
        )
