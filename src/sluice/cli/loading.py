"""Settings and DAGs for a command: the config, then the DagBag of the configured folders."""

from __future__ import annotations

import shlex
from datetime import datetime
from pathlib import Path

from sluice.cli.output import warn
from sluice.config import Settings, load_settings
from sluice.parsing.importer import LIST_IMPORT_ERRORS, DagBag, load_dag_bag
from sluice.processor.options import dag_folders
from sluice.sdk.dag import DAG
from sluice.sdk.timetables.zones import parse_timezone


def cli_settings(
    dags_folder: Path | None = None, overrides: dict[tuple[str, str], object] | None = None
) -> Settings:
    """Settings from defaults, sluice.toml and env, with ``--dags-folder`` and other
    command-line options on top."""
    return load_settings(overrides={("core", "dags_folder"): dags_folder, **(overrides or {})})


def load_bag(settings: Settings) -> DagBag:
    """Import every DAG file of the configured folders; print their warnings on stderr."""
    bag = load_dag_bag(
        dag_folders(settings),
        import_timeout=settings.dagbag_import_timeout,
        cron_data_intervals=settings.create_cron_data_intervals,
        catchup_by_default=settings.catchup_by_default,
        default_timezone=settings.default_timezone,
    )
    for text in bag.warnings:
        warn(text)
    return bag


def load_dag(settings: Settings, dag_id: str) -> DAG:
    """One DAG by id; a missing one raises DagNotFound saying why (import error, close ids)."""
    return load_bag(settings).get_dag(dag_id, errors_command=list_errors_command(settings))


def list_errors_command(settings: Settings) -> str:
    """``sluice dags list-import-errors``, with the ``--dags-folder`` this command was given."""
    if settings.source("core", "dags_folder") != "cli":
        return LIST_IMPORT_ERRORS
    return f"{LIST_IMPORT_ERRORS} --dags-folder {shlex.quote(str(settings.dags_folder))}"


def in_default_timezone(value: datetime | None, settings: Settings) -> datetime | None:
    """A date from the command line, a naive one read in [core] default_timezone (as Airflow)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=parse_timezone(settings.default_timezone))
