"""Import errors of DAG files: their one-line messages, the user's tracebacks, their lines."""

from __future__ import annotations

import os
import re
import traceback
from dataclasses import dataclass
from pathlib import Path

from sluice.core.errors import DagDefinitionError
from sluice.parsing.time_limit import ImportTimeout

_SLUICE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES_DIR = os.path.join(_SLUICE_DIR, "example_dags")
# What the checks raise names its DAG this way ("DAG 'etl': invalid schedule ...").
_NAMED_DAG = re.compile(r"\bDAG '([^']+)'")


@dataclass(frozen=True)
class ImportErrorInfo:
    """Why a DAG file, or one DAG in it, could not be loaded."""

    file: str  # absolute path
    line: int | None  # the line in the DAG file where it failed, if known
    message: str  # one line naming the file, and the DAG and task where they apply
    traceback: str  # the user's traceback for exceptions; the message for failed checks
    dag_id: str | None = None


def check_error(
    file: str, label: str, line: int | None, text: str, dag_id: str | None
) -> ImportErrorInfo:
    """An import error for a failed check, whose message is its own traceback."""
    message = _message(label, line, text)
    return ImportErrorInfo(file, line, message, message, dag_id=dag_id)


def exception_error(
    exc: BaseException, *, file: str, label: str, timeout: float
) -> ImportErrorInfo:
    """An import error for an exception raised by the file's code, with the user's traceback."""
    full = traceback.TracebackException.from_exception(exc)
    frames = list(full.stack)
    line = next((f.lineno for f in reversed(frames) if f.filename == file), None)
    if isinstance(exc, SyntaxError) and exc.filename == file:
        line = exc.lineno

    # Sluice's own frames above the user's code are noise. Below it they are kept for a
    # user's exception (they may be where the user's value went wrong) but dropped for a
    # definition error or a timeout, which Sluice raised on purpose.
    while frames and _is_sluice_frame(frames[0].filename, file):
        frames.pop(0)
    on_purpose = isinstance(exc, DagDefinitionError | ImportTimeout)
    while on_purpose and frames and _is_sluice_frame(frames[-1].filename, file):
        frames.pop()
    full.stack = traceback.StackSummary.from_list(frames)

    dag_id = None
    if isinstance(exc, ImportTimeout):
        text = f"DAG file took longer than {timeout:g} s to import"
        header = "Traceback (most recent call last):\n" if frames else ""
        details = header + "".join(full.stack.format()) + f"{text}\n"
    else:
        text = str(exc) if isinstance(exc, DagDefinitionError) else _one_line(exc)
        details = "".join(full.format())
        if isinstance(exc, DagDefinitionError):
            # A bad cron, trigger rule or duplicate task id: Sluice's message names the DAG.
            named = _NAMED_DAG.search(text)
            dag_id = named.group(1) if named else None
    return ImportErrorInfo(file, line, _message(label, line, text), details, dag_id=dag_id)


def combine_errors(errors: list[ImportErrorInfo]) -> ImportErrorInfo:
    """One error per file, as the store keeps them: the first, with the others' details."""
    if len(errors) == 1:
        return errors[0]
    first = errors[0]
    more = len(errors) - 1
    message = f"{first.message} (and {more} more problem{'s' if more > 1 else ''})"
    details = "\n\n".join(error.traceback for error in errors)
    return ImportErrorInfo(first.file, first.line, message, details, first.dag_id)


def file_label(file: str, root: str | None) -> str:
    """``dags/team/etl.py``: the path from the scanned folder's name; a file scanned on its
    own keeps its absolute path (a short ``tmp/etl.py`` would read as a relative path)."""
    if root is not None:
        return Path(os.path.relpath(file, os.path.dirname(root))).as_posix()
    return file


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"{type(exc).__name__}: {exc.msg}"
    first = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0]}" if first else type(exc).__name__


def _is_sluice_frame(filename: str, file: str) -> bool:
    return (
        filename != file
        and filename.startswith(_SLUICE_DIR + os.sep)
        and not filename.startswith(EXAMPLES_DIR + os.sep)
    )


def _message(label: str, line: int | None, text: str) -> str:
    where = f"{label}:{line}" if line else label
    first = text.strip().splitlines()
    return f"{where}: {first[0] if first else text}"
