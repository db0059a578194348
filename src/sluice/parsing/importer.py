"""Importing DAG files into a DagBag, with Airflow's semantics and clear import errors.

Each file runs as a module of its own, named after its absolute path (so the same file always
gets the same name, and functions defined in it pickle), with its folder on ``sys.path`` while
it runs so that sibling helper modules import. Helper modules stay cached in ``sys.modules``
like any import: a changed helper is seen by a new process, which is how the DAG processor
parses files.

The per-file time limit (``sluice.parsing.time_limit``) uses SIGALRM and so applies only on
the main thread of a POSIX process; elsewhere there is no limit here, and the DAG processor
enforces one by parsing in a subprocess.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import linecache
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from types import FrameType, ModuleType

from sluice.core.errors import DagDefinitionError, DagNotFound, ParsingError, ScheduleError
from sluice.core.suggestions import unknown_id_message
from sluice.parsing.checks import DagIdOwners, finalize_dag
from sluice.parsing.discover import find_dag_files
from sluice.parsing.import_errors import (
    EXAMPLES_DIR,
    ImportErrorInfo,
    check_error,
    combine_errors,
    exception_error,
    file_label,
)
from sluice.parsing.time_limit import ImportTimeout, time_limit
from sluice.sdk import definition_context
from sluice.sdk.dag import DAG
from sluice.sdk.timetables.zones import parse_timezone

LIST_IMPORT_ERRORS = "sluice dags list-import-errors"


@dataclass(frozen=True)
class FileStat:
    """How importing one file went."""

    file: str
    duration: float
    dag_count: int
    task_count: int
    error: bool


@dataclass
class DagBag:
    """The DAGs found in some folders, and the import errors of the files that failed."""

    dags: dict[str, DAG] = field(default_factory=dict)
    import_errors: dict[str, ImportErrorInfo] = field(default_factory=dict)  # by file path
    file_stats: list[FileStat] = field(default_factory=list)
    # Warnings the DAG files raised while importing ("file:line: Category: message"), which
    # Python would otherwise hide (a DeprecationWarning shows only in __main__).
    warnings: list[str] = field(default_factory=list)

    def get_dag(self, dag_id: str, *, errors_command: str = LIST_IMPORT_ERRORS) -> DAG:
        """The DAG with this id.

        When it is missing the error says why: its file failed to import, or else which ids
        are close and how many files failed. ``errors_command`` is the command that lists
        the import errors, as the message shows it.
        """
        try:
            return self.dags[dag_id]
        except KeyError:
            pass
        failed = self.import_error_of(dag_id)
        if failed is not None:
            raise DagNotFound(
                f"DAG '{dag_id}' failed to import: {failed.message}; see `{errors_command}`"
            )
        message = unknown_id_message("DAG", dag_id, self.dags)
        count = len(self.import_errors)
        if count:
            files = "1 file" if count == 1 else f"{count} files"
            message += f" ({files} failed to import; see `{errors_command}`)"
        raise DagNotFound(message)

    def import_error_of(self, dag_id: str) -> ImportErrorInfo | None:
        """The import error that most likely hides ``dag_id``, if any.

        In order: an error known to be that DAG's, one whose message names it, one whose
        file holds the id as a string literal (a file that failed before defining it).
        """
        errors = sorted(self.import_errors.values(), key=lambda error: error.file)
        for error in errors:
            if error.dag_id == dag_id:
                return error
        for error in errors:
            if f"'{dag_id}'" in error.message:
                return error
        literals = (f'"{dag_id}"'.encode(), f"'{dag_id}'".encode())
        for error in errors:
            try:
                source = Path(error.file).read_bytes()
            except OSError:
                continue
            if any(literal in source for literal in literals):
                return error
        return None


def example_dags_folder() -> Path:
    """The folder of the example DAGs shipped with Sluice."""
    return Path(EXAMPLES_DIR)


def module_name_for(path: Path) -> str:
    """The name a DAG file's module gets in ``sys.modules``: stable for a given path."""
    file = os.path.abspath(path)
    digest = hashlib.sha1(file.encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", Path(file).stem)
    return f"sluice_dag_{digest}_{stem}"


def import_dag_file(
    path: Path, *, timeout: float = 30.0
) -> tuple[list[DAG], ImportErrorInfo | None, float]:
    """Import one DAG file: its DAGs, its import error if any, and the seconds it took.

    The DAGs are those held by the module's globals plus those created while the file's own
    code ran (a ``@dag`` function called at module level, a factory's DAG not assigned); each
    gets ``fileloc`` set to this file. They are not validated yet: ``load_dag_bag`` does that.
    """
    imported = _import(path, timeout=timeout, label=os.path.abspath(path))
    return [dag for dag, _ in imported.dags], imported.error, imported.duration


def load_dag_bag(
    paths: Sequence[Path],
    *,
    safe_mode: bool = True,
    import_timeout: float = 30.0,
    cron_data_intervals: bool = True,
    catchup_by_default: bool = False,
    default_timezone: str = "UTC",
) -> DagBag:
    """Import every DAG file under ``paths`` (folders or files), check them, and bag the DAGs.

    Files are imported in the order of ``paths``, each folder's files sorted; when two files
    define one dag_id the first keeps it and the second gets the import error. A file that
    fails never stops the others. Naive start and end dates are read in ``default_timezone``
    (an IANA name), as Airflow reads them in ``[core] default_timezone``. Raises ParsingError
    for a folder that does not exist, a path that is not a .py file, or a bad timezone.
    """
    try:
        zone = parse_timezone(default_timezone)
    except ScheduleError as exc:
        raise ParsingError(f"invalid default_timezone: {exc}") from None
    bag = DagBag()
    owners = DagIdOwners()
    for file, label in _files(paths, safe_mode=safe_mode):
        imported = _import(Path(file), timeout=import_timeout, label=label)
        bag.warnings.extend(w for w in imported.warnings if w not in bag.warnings)
        errors = [imported.error] if imported.error else []
        for dag, line in imported.dags:
            duplicate = owners.claim(dag.dag_id, file, label)
            if duplicate is not None:
                errors.append(check_error(file, label, line, duplicate, dag.dag_id))
                continue
            problem = _finalize(
                dag,
                file=file,
                label=label,
                line=line,
                cron_data_intervals=cron_data_intervals,
                catchup_by_default=catchup_by_default,
                default_timezone=zone,
            )
            if problem is not None:
                errors.append(problem)
                continue
            bag.dags[dag.dag_id] = dag
        kept = [dag for dag, _ in imported.dags if bag.dags.get(dag.dag_id) is dag]
        if errors:
            bag.import_errors[file] = combine_errors(errors)
        bag.file_stats.append(
            FileStat(
                file=file,
                duration=imported.duration,
                dag_count=len(kept),
                task_count=sum(len(dag.task_dict) for dag in kept),
                error=bool(errors),
            )
        )
    return bag


@dataclass
class _Imported:
    dags: list[tuple[DAG, int | None]]  # each DAG with the line that created it, if known
    error: ImportErrorInfo | None
    duration: float
    warnings: list[str] = field(default_factory=list)  # "file:line: Category: message"


def _import(path: Path, *, timeout: float, label: str) -> _Imported:
    started = time.perf_counter()
    file = os.path.abspath(path)
    try:
        source = Path(file).read_bytes()
    except OSError as exc:
        message = f"{label}: cannot read the DAG file: {exc.strerror or exc}"
        error = ImportErrorInfo(file, None, message, message)
        return _Imported([], error, time.perf_counter() - started)

    name = module_name_for(Path(file))
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None  # a .py path always has a spec
    module = importlib.util.module_from_spec(spec)
    created: list[tuple[DAG, int | None]] = []

    def on_dag_created(dag: DAG) -> None:
        owner = _definition_frame(sys._getframe(1), module)
        if owner is not None:
            created.append((dag, owner.f_lineno if owner.f_code.co_filename == file else None))

    # Fresh source lines for tracebacks, and fresh folder listings for sibling imports.
    linecache.checkcache(file)
    importlib.invalidate_caches()
    sys.modules.pop(name, None)
    raised: list[str] = []
    try:
        with (
            _recording_warnings(raised, file=file, label=label),
            _on_sys_path(os.path.dirname(file)),
            definition_context.watching_new_dags(on_dag_created),
            time_limit(timeout),
        ):
            # Compiled here rather than by the import system, whose bytecode cache trusts
            # whole-second mtimes and would miss an edit made within the same second.
            code = compile(source, file, "exec", dont_inherit=True)
            sys.modules[name] = module
            exec(code, module.__dict__)
    except (Exception, SystemExit, ImportTimeout) as exc:
        sys.modules.pop(name, None)
        error = exception_error(exc, file=file, label=label, timeout=timeout)
        return _Imported([], error, time.perf_counter() - started, raised)

    dags, duplicates = _collect(module, created, file=file, label=label)
    return _Imported(dags, duplicates, time.perf_counter() - started, raised)


@contextmanager
def _recording_warnings(into: list[str], *, file: str, label: str) -> Iterator[None]:
    """Append each warning raised in the block to ``into``, once, instead of showing it.

    Every warning is kept ("always"): Python's default filters would hide a
    DeprecationWarning raised outside ``__main__``, which a DAG file's is.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for warning in caught:
                where = label if warning.filename == file else warning.filename
                text = f"{where}:{warning.lineno}: {warning.category.__name__}: {warning.message}"
                if text not in into:
                    into.append(text)


def _definition_frame(frame: FrameType | None, module: ModuleType) -> FrameType | None:
    """The frame of ``module``'s code that created a DAG, or None if another module did.

    A DAG made by a helper module's own top-level code (imported by the DAG file) belongs to
    that module, not to the DAG file; a DAG made by a helper function the DAG file called does.
    """
    while frame is not None:
        if frame.f_globals is module.__dict__:
            return frame
        if frame.f_code.co_name == "<module>":
            return None
        frame = frame.f_back
    return None


def _collect(
    module: ModuleType, created: list[tuple[DAG, int | None]], *, file: str, label: str
) -> tuple[list[tuple[DAG, int | None]], ImportErrorInfo | None]:
    """The file's DAGs, in creation order then global order, each dag_id once."""
    found = list(created)
    seen = {id(dag) for dag, _ in found}
    for value in list(vars(module).values()):
        if isinstance(value, DAG) and id(value) not in seen:
            seen.add(id(value))
            found.append((value, None))

    dags: list[tuple[DAG, int | None]] = []
    lines: dict[str, int | None] = {}
    errors: list[ImportErrorInfo] = []
    for dag, line in found:
        dag.fileloc = file
        if dag.dag_id in lines:
            where = f" (lines {lines[dag.dag_id]} and {line})" if lines[dag.dag_id] and line else ""
            text = f"DAG '{dag.dag_id}' is defined twice in this file{where}"
            errors.append(check_error(file, label, line, text, dag.dag_id))
            continue
        lines[dag.dag_id] = line
        dags.append((dag, line))
    return dags, combine_errors(errors) if errors else None


def _finalize(
    dag: DAG,
    *,
    file: str,
    label: str,
    line: int | None,
    cron_data_intervals: bool,
    catchup_by_default: bool,
    default_timezone: tzinfo,
) -> ImportErrorInfo | None:
    try:
        finalize_dag(
            dag,
            cron_data_intervals=cron_data_intervals,
            catchup_by_default=catchup_by_default,
            default_timezone=default_timezone,
        )
    except DagDefinitionError as exc:
        return check_error(file, label, line, str(exc), dag.dag_id)
    except Exception as exc:  # user code: a custom timetable, a param's validation
        error = exception_error(exc, file=file, label=label, timeout=0)
        return ImportErrorInfo(
            file, error.line or line, error.message, error.traceback, dag_id=dag.dag_id
        )
    return None


def _files(paths: Sequence[Path], *, safe_mode: bool) -> Iterator[tuple[str, str]]:
    """Each DAG file once, as an absolute path and the short label its messages show."""
    seen: set[str] = set()
    for path in paths:
        root = os.path.abspath(path) if path.is_dir() else None
        for found in find_dag_files(path, safe_mode=safe_mode):
            file = os.path.abspath(found)
            if file not in seen:
                seen.add(file)
                yield file, file_label(file, root)


@contextmanager
def _on_sys_path(folder: str) -> Iterator[None]:
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added:
            with suppress(ValueError):
                sys.path.remove(folder)


__all__ = [
    "LIST_IMPORT_ERRORS",
    "DagBag",
    "FileStat",
    "ImportErrorInfo",
    "example_dags_folder",
    "import_dag_file",
    "load_dag_bag",
    "module_name_for",
]
