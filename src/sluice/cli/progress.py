"""What a local run shows while it runs: state changes, task logs, and the final table."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

import click
from rich.table import Table
from rich.text import Text

from sluice.cli.output import console
from sluice.config import Settings
from sluice.core.errors import ParamValidationError, SluiceError
from sluice.core.states import DagRunState, TaskInstanceState, TaskState
from sluice.integrations.masking import configure_masking, mask_text
from sluice.integrations.runtime import Opener
from sluice.runner.local_run import InstanceRecord, LocalDagRun, RunResult
from sluice.runner.task_logs import MaskingStream
from sluice.sdk.dag import DAG

if TYPE_CHECKING:
    from sluice.store.engine import Store

LOGGERS = ("sluice.task", "sluice.run")

# Keyed by state name: task and run states share these words.
_COLOURS: dict[str, str] = {
    "running": "cyan",
    "success": "green",
    "failed": "red",
    "upstream_failed": "red",
    "up_for_retry": "yellow",
    "skipped": "magenta",
}


def instance_label(record: InstanceRecord) -> str:
    """``task_id`` or ``task_id[map_index]``."""
    return record.task_id if record.map_index < 0 else f"{record.task_id}[{record.map_index}]"


def state_text(state: TaskState | DagRunState) -> str:
    """The state's name, coloured when the output is a terminal."""
    name = state.value if state is not None else "none"
    return click.style(name, fg=_COLOURS.get(name))


class RunProgress:
    """The run's listener: prints one line per state change, as it happens."""

    def __init__(self, *, err: bool, current: str = "run") -> None:
        self.err = err
        self.current = current

    def __call__(self, record: InstanceRecord) -> None:
        """Print the change of ``record`` and remember which task is running."""
        label = instance_label(record)
        if record.state is TaskInstanceState.RUNNING:
            self.current = label
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        parts = [now, label, state_text(record.state)]
        if record.try_number:
            parts.append(f"try {record.try_number}/{record.max_tries + 1}")
        if record.state is TaskInstanceState.UP_FOR_RETRY and record.next_try_at is not None:
            parts.append(f"next try at {record.next_try_at.isoformat(timespec='seconds')}")
        if record.error and record.state is not TaskInstanceState.RUNNING:
            parts.append(record.error)
        click.echo("  ".join(parts), err=self.err)


class _TaskLogHandler(logging.Handler):
    """Echoes a log record to stderr, prefixed by the task it came from."""

    def __init__(self, progress: RunProgress) -> None:
        super().__init__()
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        try:
            source = self.progress.current if record.name == "sluice.task" else "run"
            text = mask_text(self.format(record))
            click.echo(f"[{source}] {record.levelname} {text}", err=True)
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def task_logs(settings: Settings, progress: RunProgress) -> Iterator[None]:
    """Send the task and run loggers to stderr for the duration of the block, secrets the
    tasks read masked."""
    configure_masking(settings)
    handler = _TaskLogHandler(progress)
    # What tasks print reaches the terminal masked too.
    stdout = contextlib.redirect_stdout(MaskingStream(sys.stdout))  # type: ignore[type-var]
    stderr = contextlib.redirect_stderr(MaskingStream(sys.stderr))  # type: ignore[type-var]
    handler.setFormatter(logging.Formatter("%(message)s"))
    saved: list[tuple[logging.Logger, int, bool]] = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.addHandler(handler)
        logger.setLevel(settings.get_str("logging", "level"))
        # Not also through the root logger, or a configured root would print every line twice.
        logger.propagate = False
    try:
        with stdout, stderr:
            yield
    finally:
        for logger, level, propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send whatever tasks print, from Python or from a child process, to stderr."""
    sys.stdout.flush()
    out_fd, err_fd = _fileno(sys.stdout), _fileno(sys.stderr)
    saved = None
    if out_fd is not None and err_fd is not None:
        saved = os.dup(out_fd)
        os.dup2(err_fd, out_fd)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved is not None and out_fd is not None:
            os.dup2(saved, out_fd)
            os.close(saved)


def _fileno(stream: IO[str]) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return None


def store_opener(settings: Settings) -> Opener:
    """Opens the metadata database when a task first reads a variable or connection that
    the environment does not define (``with use_store(store_opener(settings)):``).

    A database that cannot be opened leaves the environment as the only source, with a
    warning: ``dags test`` must work without a database.
    """

    def opener() -> Store | None:
        # Imported here: most `dags test` runs read no variable, and SQLAlchemy costs
        # every command a fifth of a second.
        from sluice.cli.store_access import open_store

        try:
            return open_store(settings)
        except SluiceError as exc:
            logging.getLogger("sluice.run").warning(
                "variables and connections come from the environment only: %s", exc
            )
            return None

    return opener


def make_run(
    dag: DAG,
    *,
    settings: Settings,
    logical_date: datetime | None,
    conf: Mapping[str, Any] | None,
    progress: RunProgress | None = None,
    wait_for_retries: bool = True,
) -> LocalDagRun:
    """A local run of the DAG; invalid conf raises ParamValidationError naming the DAG."""
    try:
        return LocalDagRun(
            dag,
            logical_date=logical_date or datetime.now(UTC),
            conf=conf,
            wait_for_retries=wait_for_retries,
            config=settings,
            listener=progress,
        )
    except ParamValidationError as exc:
        raise ParamValidationError(f"invalid conf for DAG '{dag.dag_id}': {exc}") from None


SUMMARY_ROWS = 50
"""Above this many task instances the table lists only those that did not succeed:
a 500-row table takes longer to draw than the run itself."""


def print_summary(result: RunResult) -> None:
    """The final state of the task instances, then the run's state."""
    rows = result.instances
    if len(rows) > SUMMARY_ROWS:
        counts = Counter(r.state.value if r.state else "none" for r in rows)
        click.echo(
            f"{len(rows)} task instances: "
            + ", ".join(f"{n} {state_text(_state_of(s))}" for s, n in sorted(counts.items()))
        )
        rows = [r for r in rows if r.state is not TaskInstanceState.SUCCESS][:SUMMARY_ROWS]
        if rows:
            click.echo(f"Not successful (first {len(rows)}; --output json lists every one):")
    if rows:
        console().print(_summary_table(rows))
    click.echo(
        f"DAG run {result.run_id} of '{result.dag_id}': {state_text(result.state)}"
        f" in {result.duration:.2f} s"
    )


def _state_of(name: str) -> TaskState:
    return None if name == "none" else TaskInstanceState(name)


def _summary_table(rows: list[InstanceRecord]) -> Table:
    table = Table("task", "map index", "state", "tries", "duration", title_justify="left")
    for record in rows:
        table.add_row(
            Text(record.task_id),
            "" if record.map_index < 0 else str(record.map_index),
            Text(record.state.value if record.state else "none", style=_style(record.state)),
            f"{record.try_number}/{record.max_tries + 1}",
            "" if record.duration is None else f"{record.duration:.2f} s",
        )
    return table


def run_document(result: RunResult) -> dict[str, Any]:
    """The run as one JSON-ready document."""
    return {
        "dag_id": result.dag_id,
        "run_id": result.run_id,
        "state": result.state.value,
        "logical_date": result.logical_date,
        "data_interval_start": result.data_interval_start,
        "data_interval_end": result.data_interval_end,
        "conf": result.conf,
        "duration": result.duration,
        "task_instances": [record.as_dict() for record in result.instances],
    }


def _style(state: TaskState) -> str:
    return _COLOURS.get(state.value, "") if state is not None else ""
