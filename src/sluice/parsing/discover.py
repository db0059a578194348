"""Finding DAG files: a recursive scan honouring .sluiceignore files and Airflow's safe mode."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

from sluice.core.errors import ParsingError

IGNORE_FILE_NAME = ".sluiceignore"


@dataclass(frozen=True)
class _IgnoreRules:
    """The patterns of one .sluiceignore, which are relative to the folder holding it."""

    folder: Path
    spec: pathspec.GitIgnoreSpec


def find_dag_files(folder: Path, *, safe_mode: bool = True) -> list[Path]:
    """Return the sorted .py files under folder that may define DAGs (or folder, if a file)."""
    if folder.is_file():
        if folder.suffix != ".py":
            raise ParsingError(f"{folder} is not a Python file: DAG files end in .py")
        # A file named explicitly is what the user wants parsed: no ignore rules, no heuristic.
        return [folder]
    if not folder.is_dir():
        raise ParsingError(f"DAGs folder not found: {folder}")

    found: list[Path] = []
    rules_by_folder: dict[Path, tuple[_IgnoreRules, ...]] = {folder: ()}
    # Real paths of the folders already scanned: a symlinked folder is followed once, so a link
    # back to an ancestor (a loop) or a second link to the same folder is skipped.
    scanned = {folder.resolve()}

    for root, dirnames, filenames in os.walk(folder, onerror=_raise, followlinks=True):
        here = Path(root)
        rules = rules_by_folder.pop(here)
        own_rules = _read_ignore_file(here / IGNORE_FILE_NAME)
        if own_rules is not None:
            rules = (*rules, own_rules)

        kept: list[str] = []
        # Sorted so that which of two links to one folder gets scanned does not vary by run.
        for name in sorted(dirnames):
            subfolder = here / name
            if _is_hidden_or_cache(name) or _is_ignored(subfolder, rules, is_dir=True):
                continue
            real = subfolder.resolve()
            if real in scanned:
                continue
            scanned.add(real)
            rules_by_folder[subfolder] = rules
            kept.append(name)
        dirnames[:] = kept  # os.walk descends only into the folders left here

        for name in filenames:
            path = here / name
            # Hidden .py files are editor lock files (".#dag.py") or macOS metadata ("._dag.py").
            if not name.endswith(".py") or name.startswith("."):
                continue
            if _is_ignored(path, rules, is_dir=False):
                continue
            if safe_mode and not might_contain_dag(path):
                continue
            found.append(path)

    return sorted(found)


def might_contain_dag(path: Path) -> bool:
    """Return whether the file mentions both "dag" and "sluice" (or "airflow"), ignoring case."""
    try:
        content = path.read_bytes().lower()
    except OSError:
        # Keep an unreadable file: the importer then reports why, instead of it vanishing.
        return True
    return b"dag" in content and (b"sluice" in content or b"airflow" in content)


def _is_hidden_or_cache(name: str) -> bool:
    return name.startswith(".") or name == "__pycache__"


def _is_ignored(path: Path, rules: Sequence[_IgnoreRules], *, is_dir: bool) -> bool:
    # Git's order: files are checked against the outer .sluiceignore first, and a deeper file's
    # matching pattern (a "!" negation included) overrides the outer verdict.
    ignored = False
    for rule in rules:
        relative = path.relative_to(rule.folder).as_posix()
        # A trailing slash lets directory-only patterns such as "tmp/" match.
        result = rule.spec.check_file(relative + "/" if is_dir else relative)
        if result.include is not None:
            ignored = result.include
    return ignored


def _read_ignore_file(path: Path) -> _IgnoreRules | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParsingError(f"Cannot read {path}: {exc}") from exc

    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        # Compiled one by one first, so that a bad pattern is reported with its line.
        try:
            pathspec.GitIgnoreSpec.from_lines([line])
        except ValueError as exc:
            raise ParsingError(f"Invalid pattern {line!r} in {path}, line {number}: {exc}") from exc
    return _IgnoreRules(folder=path.parent, spec=pathspec.GitIgnoreSpec.from_lines(lines))


def _raise(error: OSError) -> None:
    # A folder that cannot be listed must stop the scan: skipping it would make its DAGs look
    # deleted to whoever compares this scan with the last one.
    raise ParsingError(f"Cannot scan {error.filename}: {error.strerror}") from error
