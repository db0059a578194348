"""Tests for finding DAG files: recursion, .sluiceignore, safe mode, symlinks, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sluice.core.errors import ParsingError
from sluice.parsing.discover import find_dag_files, might_contain_dag

DAG_SOURCE = "from sluice import DAG\n\nwith DAG('x'):\n    pass\n"


def write(path: Path, text: str = DAG_SOURCE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def relative(folder: Path, paths: list[Path]) -> list[str]:
    return [p.relative_to(folder).as_posix() for p in paths]


def test_nested_folders_are_scanned_and_sorted(tmp_path: Path) -> None:
    for name in ["b.py", "a.py", "sub/c.py", "sub/deeper/d.py", "notes.txt", "sub/e.pyc"]:
        write(tmp_path / name)

    assert relative(tmp_path, find_dag_files(tmp_path)) == [
        "a.py",
        "b.py",
        "sub/c.py",
        "sub/deeper/d.py",
    ]


def test_pycache_hidden_folders_and_hidden_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "__pycache__" / "a.py")
    write(tmp_path / ".git" / "b.py")
    write(tmp_path / "sub" / ".venv" / "c.py")
    write(tmp_path / ".#lock.py")
    write(tmp_path / "dag.py")

    assert relative(tmp_path, find_dag_files(tmp_path)) == ["dag.py"]


def test_a_single_file_is_returned_as_is(tmp_path: Path) -> None:
    path = write(tmp_path / "plain.py", "print('no keywords here')\n")

    assert find_dag_files(path) == [path]


def test_a_single_file_that_is_not_python_raises(tmp_path: Path) -> None:
    notes = write(tmp_path / "notes.txt", "from sluice import DAG\n")

    with pytest.raises(ParsingError, match=f"^{notes} is not a Python file: DAG files end in .py$"):
        find_dag_files(notes)


def test_missing_folder_raises(tmp_path: Path) -> None:
    missing = tmp_path / "nope"

    with pytest.raises(ParsingError, match=f"^DAGs folder not found: {missing}$"):
        find_dag_files(missing)


def test_ignore_patterns_with_negation(tmp_path: Path) -> None:
    write(tmp_path / ".sluiceignore", "# comments are fine\n*_test.py\n!keep_test.py\n")
    for name in ["a.py", "a_test.py", "keep_test.py", "sub/b_test.py", "sub/keep_test.py"]:
        write(tmp_path / name)

    assert relative(tmp_path, find_dag_files(tmp_path)) == [
        "a.py",
        "keep_test.py",
        "sub/keep_test.py",
    ]


def test_directory_pattern_ignores_folders_at_any_depth_but_not_files(tmp_path: Path) -> None:
    write(tmp_path / ".sluiceignore", "tmp/\n")
    write(tmp_path / "tmp" / "a.py")
    write(tmp_path / "sub" / "tmp" / "b.py")
    write(tmp_path / "sub" / "tmp.py")

    assert relative(tmp_path, find_dag_files(tmp_path)) == ["sub/tmp.py"]


def test_anchored_pattern_is_relative_to_the_ignore_file(tmp_path: Path) -> None:
    write(tmp_path / ".sluiceignore", "/top.py\nsub/only_here.py\n")
    for name in ["top.py", "sub/top.py", "sub/only_here.py", "other/sub/only_here.py"]:
        write(tmp_path / name)

    assert relative(tmp_path, find_dag_files(tmp_path)) == ["other/sub/only_here.py", "sub/top.py"]


def test_subfolder_ignore_file_applies_to_its_folder_only(tmp_path: Path) -> None:
    write(tmp_path / "sub" / ".sluiceignore", "*.py\n!keep.py\n")
    for name in ["a.py", "sub/a.py", "sub/keep.py", "sub/deep/b.py", "other/c.py"]:
        write(tmp_path / name)

    assert relative(tmp_path, find_dag_files(tmp_path)) == ["a.py", "other/c.py", "sub/keep.py"]


def test_subfolder_ignore_file_can_override_the_outer_one(tmp_path: Path) -> None:
    write(tmp_path / ".sluiceignore", "legacy_*.py\n")
    write(tmp_path / "sub" / ".sluiceignore", "!legacy_ok.py\n")
    for name in ["legacy_a.py", "sub/legacy_b.py", "sub/legacy_ok.py"]:
        write(tmp_path / name)

    assert relative(tmp_path, find_dag_files(tmp_path)) == ["sub/legacy_ok.py"]


def test_subfolder_ignore_patterns_are_relative_to_the_subfolder(tmp_path: Path) -> None:
    write(tmp_path / "sub" / ".sluiceignore", "/a.py\n")
    for name in ["a.py", "sub/a.py", "sub/inner/a.py"]:
        write(tmp_path / name)

    assert relative(tmp_path, find_dag_files(tmp_path)) == ["a.py", "sub/inner/a.py"]


def test_an_ignored_folder_cannot_be_reincluded_from_inside(tmp_path: Path) -> None:
    # As in git: once a folder is excluded, nothing inside it is looked at.
    write(tmp_path / ".sluiceignore", "vendor/\n")
    write(tmp_path / "vendor" / ".sluiceignore", "!*.py\n")
    write(tmp_path / "vendor" / "a.py")

    assert find_dag_files(tmp_path) == []


def test_invalid_ignore_pattern_names_file_and_line(tmp_path: Path) -> None:
    ignore_file = write(tmp_path / ".sluiceignore", "*.tmp\n!\n")

    with pytest.raises(ParsingError, match=f"Invalid pattern '!' in {ignore_file}, line 2"):
        find_dag_files(tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        "from sluice import DAG\n",
        "import airflow\nwith Dag('x'): ...\n",
        "# SLUICE dag\n",
        "from sluice.sdk import dag\n",
    ],
)
def test_safe_mode_keeps_files_mentioning_dag_and_sluice(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "a.py", text)

    assert might_contain_dag(path)
    assert find_dag_files(tmp_path) == [path]


@pytest.mark.parametrize(
    "text", ["import os\n", "def helper():\n    return 'dag'\n", "import sluice\n", ""]
)
def test_safe_mode_skips_files_without_both_words(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "helper.py", text)

    assert not might_contain_dag(path)
    assert find_dag_files(tmp_path) == []
    assert find_dag_files(tmp_path, safe_mode=False) == [path]


def test_safe_mode_reads_bytes_so_any_encoding_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "latin.py"
    path.write_bytes("# caf\xe9\nfrom sluice import DAG\n".encode("latin-1"))

    assert find_dag_files(tmp_path) == [path]


def test_symlinked_folder_is_followed(tmp_path: Path) -> None:
    outside = tmp_path / "shared"
    write(outside / "shared_dag.py")
    dags = tmp_path / "dags"
    write(dags / "a.py")
    os.symlink(outside, dags / "linked", target_is_directory=True)

    assert relative(dags, find_dag_files(dags)) == ["a.py", "linked/shared_dag.py"]


def test_symlink_loop_does_not_hang(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "a.py")
    os.symlink(tmp_path, tmp_path / "sub" / "back_to_top", target_is_directory=True)
    os.symlink(tmp_path / "sub", tmp_path / "sub" / "self", target_is_directory=True)

    assert relative(tmp_path, find_dag_files(tmp_path)) == ["sub/a.py"]


def test_two_links_to_one_folder_are_followed_once(tmp_path: Path) -> None:
    outside = tmp_path / "shared"
    write(outside / "x.py")
    dags = tmp_path / "dags"
    dags.mkdir()
    os.symlink(outside, dags / "one", target_is_directory=True)
    os.symlink(outside, dags / "two", target_is_directory=True)

    assert relative(dags, find_dag_files(dags)) == ["one/x.py"]
