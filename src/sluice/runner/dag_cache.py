"""DAG files imported by a worker, kept while they are unchanged.

A warm worker runs many tasks of the same files: it imports a file once and again only
when its modification time changes, so a task's start costs no import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from sluice.config import Settings
from sluice.core.errors import DagDefinitionError, DagNotFound
from sluice.core.suggestions import unknown_id_message
from sluice.parsing.checks import finalize_dag
from sluice.parsing.importer import import_dag_file
from sluice.sdk.dag import DAG
from sluice.sdk.timetables.zones import parse_timezone


@dataclass(frozen=True)
class _Entry:
    mtime_ns: int
    dags: dict[str, DAG]
    error: str | None


class DagCache:
    """DAGs by file, imported as the DAG processor imports them, re-imported on change."""

    def __init__(
        self,
        *,
        import_timeout: float = 30.0,
        default_timezone: str = "UTC",
        cron_data_intervals: bool = True,
        catchup_by_default: bool = False,
    ) -> None:
        self.import_timeout = import_timeout
        self.cron_data_intervals = cron_data_intervals
        self.catchup_by_default = catchup_by_default
        self._zone: tzinfo = parse_timezone(default_timezone)
        self._files: dict[str, _Entry] = {}
        self.imports = 0
        """How many times a file was imported (to see that warm lookups import nothing)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> DagCache:
        """A cache that imports with the deployment's settings."""
        return cls(
            import_timeout=settings.dagbag_import_timeout,
            default_timezone=settings.default_timezone,
            cron_data_intervals=settings.create_cron_data_intervals,
            catchup_by_default=settings.catchup_by_default,
        )

    def get_dag(self, path: str, dag_id: str) -> DAG:
        """The DAG ``dag_id`` of the file at ``path``; DagNotFound says why it is missing."""
        file = os.path.abspath(path)
        try:
            mtime_ns = os.stat(file).st_mtime_ns
        except OSError as exc:
            self._files.pop(file, None)
            raise DagNotFound(
                f"DAG '{dag_id}': cannot read its file {file}: {exc.strerror or exc}"
            ) from None
        entry = self._files.get(file)
        if entry is None or entry.mtime_ns != mtime_ns:
            entry = self._import(file, mtime_ns)
            self._files[file] = entry
        dag = entry.dags.get(dag_id)
        if dag is not None:
            return dag
        if entry.error is not None:
            raise DagNotFound(f"DAG '{dag_id}': its file {file} failed to import: {entry.error}")
        raise DagNotFound(unknown_id_message("DAG", dag_id, entry.dags, where=f" in {file}"))

    def _import(self, file: str, mtime_ns: int) -> _Entry:
        self.imports += 1
        dags, error, _ = import_dag_file(Path(file), timeout=self.import_timeout)
        kept: dict[str, DAG] = {}
        problems = [error.message] if error is not None else []
        for dag in dags:
            try:
                finalize_dag(
                    dag,
                    cron_data_intervals=self.cron_data_intervals,
                    catchup_by_default=self.catchup_by_default,
                    default_timezone=self._zone,
                )
            except DagDefinitionError as exc:
                problems.append(str(exc))
                continue
            except Exception as exc:  # user code: a custom timetable, a param's validation
                problems.append(f"DAG '{dag.dag_id}': {type(exc).__name__}: {exc}")
                continue
            kept[dag.dag_id] = dag
        return _Entry(mtime_ns, kept, "; ".join(problems) or None)
