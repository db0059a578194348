"""What the DAG processor needs to know from the settings, as one frozen value."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sluice import __version__
from sluice.config import Settings
from sluice.parsing.importer import example_dags_folder
from sluice.parsing.serialize import SERIALIZATION_VERSION


@dataclass(frozen=True)
class ParseOptions:
    """How a worker imports and checks a file: the settings that shape a parse's result."""

    import_timeout: float = 30.0
    cron_data_intervals: bool = True
    catchup_by_default: bool = False
    default_timezone: str = "UTC"

    def fingerprint_salt(self) -> bytes:
        """Bytes mixed into every file's content hash, so that a change of these settings, or
        of Sluice's serialization, re-parses every file as if it had been edited."""
        text = (
            f"sluice {__version__} serialization {SERIALIZATION_VERSION}"
            f" cron_data_intervals={self.cron_data_intervals}"
            f" catchup_by_default={self.catchup_by_default}"
            f" default_timezone={self.default_timezone}\n"
        )
        return hashlib.sha256(text.encode()).digest()


@dataclass(frozen=True)
class ProcessorOptions:
    """The DAG processor's settings: where DAG files are, how to parse them, how often."""

    folders: tuple[Path, ...]
    """Folders (or single files) scanned, in order; the first to define a dag_id keeps it."""
    parse: ParseOptions = field(default_factory=ParseOptions)
    safe_mode: bool = True
    """Skip .py files that mention neither "dag" nor "sluice"/"airflow", as Airflow does."""
    paused_at_creation: bool = True
    parsing_processes: int = 2
    refresh_interval: float = 2.0
    heartbeat_interval: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ProcessorOptions:
        """The options [core], [scheduler] and [dag_processor] give."""
        return cls(
            folders=tuple(dag_folders(settings)),
            parse=ParseOptions(
                import_timeout=settings.dagbag_import_timeout,
                cron_data_intervals=settings.create_cron_data_intervals,
                catchup_by_default=settings.catchup_by_default,
                default_timezone=settings.default_timezone,
            ),
            paused_at_creation=settings.get_bool("core", "dags_are_paused_at_creation"),
            parsing_processes=settings.get_int("dag_processor", "parsing_processes"),
            refresh_interval=settings.get_float("dag_processor", "refresh_interval"),
            heartbeat_interval=settings.get_float("scheduler", "job_heartbeat_interval"),
        )


def dag_folders(settings: Settings) -> list[Path]:
    """The folders to parse: the DAGs folder, then the examples if they are enabled."""
    folders: list[Path] = []
    folder = settings.dags_folder
    # A missing default folder just holds no DAGs; one the user named must exist (the
    # scan then says "not found").
    if folder.exists() or settings.source("core", "dags_folder") != "default":
        folders.append(folder)
    if settings.load_examples:
        folders.append(example_dags_folder())
    return folders
