"""Parsing one DAG file into plain data: what a parsing process sends back to the processor.

This runs in a parsing process, never in the DAG processor itself: user code may hang,
leak or crash, and only plain data (JSON text, error texts, figures) crosses back.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sluice.core.errors import ParsingError, ScheduleError, SluiceError
from sluice.parsing.import_errors import (
    ImportErrorInfo,
    check_error,
    combine_errors,
    exception_error,
)
from sluice.parsing.importer import load_dag_bag, module_name_for
from sluice.parsing.serialize import canonical_json, dag_hash, serialized_dag_to_dict
from sluice.parsing.serialized import SerializedDag
from sluice.parsing.snapshot import snapshot_dag
from sluice.processor.options import ParseOptions
from sluice.sdk.dag import DAG
from sluice.sdk.schedules import DataInterval
from sluice.store.dags import DagRecord, NextRun

# Where installed libraries live: modules from there are kept between files.
_LIBRARY_ROOTS = tuple(
    {
        os.path.join(os.path.abspath(root), "")
        for root in (sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(__file__)))
    }
)


@dataclass(frozen=True)
class ParsedDag:
    """One DAG of a parsed file, serialized, with what deciding its next run needs."""

    record: DagRecord
    task_count: int
    schedule_key: str
    """Canonical JSON of the timetable and its bounds: when it changes, so may the next run."""
    first_run: NextRun
    """The next run if the DAG has no scheduled or backfill run yet."""


@dataclass(frozen=True)
class ParsedFile:
    """The outcome of importing one file."""

    path: str
    duration: float
    dags: tuple[ParsedDag, ...] = ()
    error: ImportErrorInfo | None = None
    warnings: tuple[str, ...] = ()
    missing: bool = False
    """The file was gone when the parsing process came to it."""


def parse_file(path: str, options: ParseOptions, now: datetime) -> ParsedFile:
    """Import, check and serialize the DAGs of one file, as ``load_dag_bag`` checks them.

    Duplicate dag_ids across files are not known here; the processor settles them.
    """
    started = time.perf_counter()
    modules_before = set(sys.modules)
    try:
        return _parse(path, options, now, started)
    finally:
        _forget_modules(path, modules_before)


def _parse(path: str, options: ParseOptions, now: datetime, started: float) -> ParsedFile:
    try:
        bag = load_dag_bag(
            [Path(path)],
            import_timeout=options.import_timeout,
            cron_data_intervals=options.cron_data_intervals,
            catchup_by_default=options.catchup_by_default,
            default_timezone=options.default_timezone,
        )
    except ParsingError as exc:
        if not os.path.isfile(path):
            return ParsedFile(path, time.perf_counter() - started, missing=True)
        error = check_error(path, path, None, str(exc), None)
        return ParsedFile(path, time.perf_counter() - started, error=error)
    errors = [bag.import_errors[path]] if path in bag.import_errors else []
    dags: list[ParsedDag] = []
    for dag in bag.dags.values():
        try:
            dags.append(_parsed_dag(dag, now))
        except SluiceError as exc:
            errors.append(check_error(path, path, None, str(exc), dag.dag_id))
        except Exception as exc:  # user code: a param or a default_arg that will not serialize
            errors.append(exception_error(exc, file=path, label=path, timeout=0))
    return ParsedFile(
        path,
        time.perf_counter() - started,
        dags=tuple(dags),
        error=combine_errors(errors) if errors else None,
        warnings=tuple(bag.warnings),
    )


def _parsed_dag(dag: DAG, now: datetime) -> ParsedDag:
    snapshot = snapshot_dag(dag)
    data = canonical_json(serialized_dag_to_dict(snapshot))
    record = DagRecord(
        dag_id=snapshot.dag_id,
        fileloc=snapshot.fileloc,
        owners=snapshot.owner,
        tags=snapshot.tags,
        description=snapshot.description,
        schedule=snapshot.schedule_summary,
        timetable_description=snapshot.timetable_description,
        max_active_runs=snapshot.max_active_runs,
        max_active_tasks=snapshot.max_active_tasks,
        is_paused_upon_creation=snapshot.is_paused_upon_creation,
        data=data,
        dag_hash=dag_hash(data),
    )
    return ParsedDag(
        record=record,
        task_count=len(snapshot.tasks),
        schedule_key=schedule_key(snapshot),
        first_run=next_run(snapshot, None, now),
    )


def schedule_key(dag: SerializedDag) -> str:
    """What the DAG's automated runs depend on, as canonical JSON."""
    earliest, latest, catchup = dag.time_restriction()
    return canonical_json(
        {
            "timetable": dag.timetable.serialize(),
            "earliest": None if earliest is None else earliest.isoformat(),
            "latest": None if latest is None else latest.isoformat(),
            "catchup": catchup,
        }
    )


def next_run(
    dag: SerializedDag, last_interval: tuple[datetime, datetime] | None, now: datetime
) -> NextRun:
    """The DAG's next automated run after ``last_interval`` as the dag row's fields."""
    try:
        info = dag.next_dagrun_info(
            None if last_interval is None else DataInterval(*last_interval), now
        )
    except ScheduleError:
        # Dates past what a datetime holds: no next run, as Airflow logs and moves on.
        return NextRun()
    if info is None:
        return NextRun()
    return NextRun(
        logical_date=info.logical_date,
        data_interval_start=info.data_interval.start,
        data_interval_end=info.data_interval.end,
        create_after=info.run_after,
    )


def _forget_modules(path: str, before: set[str]) -> None:
    """Drop the modules this parse added, except libraries (installed, or Sluice's own).

    The parsing process lives on, so a DAG file's module, or a helper module of the DAGs
    folder, left in ``sys.modules`` would hide its next edit; installed libraries stay
    cached, which is what keeps parsing warm.
    """
    sys.modules.pop(module_name_for(Path(path)), None)
    for name in set(sys.modules) - before:
        origin = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(origin, str) and not os.path.abspath(origin).startswith(_LIBRARY_ROOTS):
            sys.modules.pop(name, None)
