"""Settings and DAGs for a command: the config, then the DagBag of the configured folders."""

from __future__ import annotations

from pathlib import Path

from sluice.config import Settings, load_settings
from sluice.parsing.importer import DagBag, example_dags_folder, load_dag_bag
from sluice.sdk.dag import DAG


def cli_settings(dags_folder: Path | None = None) -> Settings:
    """Settings from defaults, sluice.toml and env, with ``--dags-folder`` on top."""
    return load_settings(overrides={("core", "dags_folder"): dags_folder})


def dag_folders(settings: Settings) -> list[Path]:
    """The folders to parse: the DAGs folder, then the examples if they are enabled."""
    folders: list[Path] = []
    folder = settings.dags_folder
    # A missing default folder just holds no DAGs; one the user named must exist (the
    # importer then says "not found").
    if folder.exists() or settings.source("core", "dags_folder") != "default":
        folders.append(folder)
    if settings.load_examples:
        folders.append(example_dags_folder())
    return folders


def load_bag(settings: Settings) -> DagBag:
    """Import every DAG file of the configured folders."""
    return load_dag_bag(
        dag_folders(settings),
        import_timeout=settings.dagbag_import_timeout,
        cron_data_intervals=settings.create_cron_data_intervals,
        catchup_by_default=settings.catchup_by_default,
    )


def load_dag(settings: Settings, dag_id: str) -> DAG:
    """One DAG by id; a mistyped id raises DagNotFound with close ids."""
    return load_bag(settings).get_dag(dag_id)
