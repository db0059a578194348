"""FileSensor: wait for a file, or a folder holding files, to appear on a filesystem.

The path may be a glob pattern. It is relative to the ``path`` in the extra of the
``fs`` connection ``fs_conn_id``; when that connection is ``fs_default`` and is not
defined, the path is used as given.
"""

from __future__ import annotations

import glob
import logging
import os
from datetime import datetime
from typing import Any

from sluice.core.errors import DagDefinitionError
from sluice.integrations.arguments import check_bool, check_conn_id
from sluice.integrations.errors import ConnectionNotFound
from sluice.integrations.lookup import find_connection, get_connection
from sluice.integrations.runtime import current_store
from sluice.sdk.operator import Context, task_where
from sluice.sdk.sensors.base import BaseSensorOperator

log = logging.getLogger("sluice.task")

DEFAULT_CONN_ID = "fs_default"


class FileSensor(BaseSensorOperator):
    """Done when ``filepath`` (a path or glob pattern, templated) matches a file, or a
    folder with a file somewhere inside it. ``recursive`` lets ``**`` match any number of
    folders, as in :func:`glob.glob`."""

    template_fields = ("filepath",)
    ui_color = "#91818a"

    def __init__(
        self,
        *,
        filepath: str | os.PathLike[str],
        fs_conn_id: str = DEFAULT_CONN_ID,
        recursive: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        if isinstance(filepath, os.PathLike):
            filepath = os.fspath(filepath)
        if not isinstance(filepath, str) or not filepath:
            raise DagDefinitionError(
                f"{where}: filepath must be a non-empty path or glob pattern, got {filepath!r}"
            )
        self.filepath = filepath
        self.fs_conn_id = check_conn_id(where, "fs_conn_id", fs_conn_id)
        self.recursive = check_bool(where, "recursive", recursive)
        self._base_path: str | None = None

    @property
    def path(self) -> str:
        """The pattern the sensor looks for: the connection's base path joined with
        ``filepath`` (an absolute ``filepath`` stays as it is)."""
        if self._base_path is None:  # one connection lookup per try, not one per poke
            self._base_path = self._connection_path()
        return os.path.join(self._base_path, self.filepath)

    def _connection_path(self) -> str:
        if self.fs_conn_id == DEFAULT_CONN_ID:
            found = find_connection(self.fs_conn_id, current_store)
            if found is None:
                return ""  # no fs_default: paths are used as given
        else:
            try:
                found = get_connection(self.fs_conn_id, current_store)
            except ConnectionNotFound as exc:
                raise ConnectionNotFound(f"{task_where(self)}: {exc}") from None
        base = found.extra_dejson.get("path", "")
        return base if isinstance(base, str) else str(base)

    def poke(self, context: Context) -> bool:
        """Whether a match is a file, or a folder with a file inside."""
        pattern = self.path
        log.info("Poking for file %s", pattern)
        for path in glob.glob(pattern, recursive=self.recursive):
            if os.path.isfile(path):
                modified = datetime.fromtimestamp(os.path.getmtime(path))
                log.info("Found file %s, last modified %s", path, modified.isoformat())
                return True
            for _, _, files in os.walk(path):
                if files:
                    log.info("Found folder %s holding %s", path, files[0])
                    return True
        return False


__all__ = ["FileSensor"]
