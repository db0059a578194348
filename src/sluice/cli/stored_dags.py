"""What the commands over the metadata database share: the store, stored DAGs, dates."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from sluice.actions.common import Actor
from sluice.cli.loading import cli_settings
from sluice.cli.store_access import open_store
from sluice.config import Settings
from sluice.core.errors import SluiceError
from sluice.core.states import DagRunState
from sluice.sdk.timetables.zones import parse_timezone
from sluice.store.engine import Store
from sluice.store.tables import DagRun, TaskInstance


class CommandRefused(SluiceError):
    """Raised when a command will not do what it was asked, and says why."""


@contextmanager
def opened_store(settings: Settings | None = None) -> Iterator[tuple[Settings, Store]]:
    """The settings and the migrated database they name, closed at the end of the command."""
    settings = settings or cli_settings()
    store = open_store(settings)
    try:
        yield settings, store
    finally:
        store.dispose()


def cli_user() -> str:
    """Who runs the command, for the audit log."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def cli_actor() -> Actor:
    """The person running the command, as the actions and the audit log name them."""
    return Actor(cli_user(), "cli")


def record_action(
    session: Session,
    event: str,
    *,
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write the audit row of a command that changed something (``cli_<event>``)."""
    cli_actor().record(session, event, dag_id=dag_id, run_id=run_id, task_id=task_id, extra=extra)


def to_utc(value: datetime | None, settings: Settings) -> datetime | None:
    """A command-line date in UTC, if given; a naive one is read in [core] default_timezone."""
    return None if value is None else utc(value, settings)


def utc(value: datetime, settings: Settings) -> datetime:
    """A command-line date in UTC; a naive one is read in [core] default_timezone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=parse_timezone(settings.default_timezone))
    return value.astimezone(UTC)


def run_choice() -> click.Choice[str]:
    """The states a DAG run can be in, for ``--state``."""
    return click.Choice([s.value for s in DagRunState])


def duration(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds between two times, when both are known."""
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def run_row(run: DagRun) -> dict[str, Any]:
    """A DAG run as a row of output."""
    return {
        "dag_id": run.dag_id,
        "run_id": run.run_id,
        "state": run.state,
        "run_type": run.run_type,
        "logical_date": run.logical_date,
        "data_interval_start": run.data_interval_start,
        "data_interval_end": run.data_interval_end,
        "queued_at": run.queued_at,
        "start_date": run.start_date,
        "end_date": run.end_date,
        "duration": duration(run.start_date, run.end_date),
        "backfill_id": run.backfill_id,
    }


def instance_row(ti: TaskInstance) -> dict[str, Any]:
    """A task instance as a row of output."""
    return {
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "map_index": ti.map_index,
        "state": ti.state or "none",
        "try_number": ti.try_number,
        "max_tries": ti.max_tries,
        "start_date": ti.start_date,
        "end_date": ti.end_date,
        "duration": ti.duration,
        "pool": ti.pool,
        "queue": ti.queue,
        "operator": ti.operator,
        "hostname": ti.hostname,
        "next_try_at": ti.next_try_at,
    }


def read_json_file(path: Path) -> Any:
    """The JSON document in ``path`` (an import file); CommandRefused says why not."""
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise CommandRefused(f"cannot read {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CommandRefused(f"{path} is not valid JSON: {exc}") from None
