"""Finding the DAG files and telling which changed: stat first, content hash to be sure."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sluice.parsing.discover import find_dag_files, might_contain_dag


@dataclass(frozen=True)
class FileState:
    """A DAG file as the last scan saw it."""

    path: str
    mtime_ns: int
    size: int
    fingerprint: str
    """sha256 of the parse settings' salt and the file's bytes: what dag_file stores."""

    @property
    def mtime(self) -> float:
        """The modification time in seconds since the epoch."""
        return self.mtime_ns / 1e9


@dataclass(frozen=True)
class _Seen:
    state: FileState
    is_dag_file: bool


class FileScanner:
    """Lists the DAG files of some folders; reads a file only when its stat changed.

    Safe mode's "does it mention dag and sluice" check reads the file, so its verdict is
    cached with the stat too: an unchanged folder costs one listing and one stat per file.
    """

    def __init__(self, folders: Sequence[Path], *, safe_mode: bool, salt: bytes) -> None:
        self._folders = tuple(folders)
        self._safe_mode = safe_mode
        self._salt = salt
        self._seen: dict[str, _Seen] = {}

    def scan(self) -> dict[str, FileState]:
        """The DAG files present now, by absolute path, in scan order.

        Raises ParsingError when a folder is missing or cannot be listed: a scan that saw
        only part of the files must not make the others look deleted.
        """
        found: dict[str, FileState] = {}
        for folder in self._folders:
            for path in find_dag_files(folder, safe_mode=False):
                file = os.path.abspath(path)
                if file in found:
                    continue
                state = self._state(file)
                if state is not None:
                    found[file] = state
        for gone in self._seen.keys() - found.keys():
            del self._seen[gone]
        return found

    def forget(self, path: str) -> None:
        """Read this file again at the next scan."""
        self._seen.pop(path, None)

    def _state(self, file: str) -> FileState | None:
        try:
            stat = os.stat(file)
        except OSError:
            return None  # gone since the listing: the next scan sees it deleted
        seen = self._seen.get(file)
        if seen and (seen.state.mtime_ns, seen.state.size) == (stat.st_mtime_ns, stat.st_size):
            return seen.state if seen.is_dag_file else None
        try:
            content = Path(file).read_bytes()
        except OSError:
            # Unreadable: still a DAG file, so that the import reports why it cannot be read.
            content = b""
        digest = hashlib.sha256(self._salt)
        digest.update(content)
        state = FileState(file, stat.st_mtime_ns, stat.st_size, digest.hexdigest())
        is_dag_file = not self._safe_mode or might_contain_dag(Path(file))
        self._seen[file] = _Seen(state, is_dag_file)
        return state if is_dag_file else None
