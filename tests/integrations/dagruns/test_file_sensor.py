"""FileSensor on a real folder: globs, folders that count when they hold files, the fs
connection's base path, and a templated path run by the task runner."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tests.runner.conftest import Stored

from sluice import DAG
from sluice.core.errors import DagDefinitionError
from sluice.core.states import TaskInstanceState
from sluice.integrations.errors import ConnectionNotFound
from sluice.integrations.filesystem import FileSensor

S = TaskInstanceState


def _sensor(**kwargs: Any) -> FileSensor:
    with DAG("probe", schedule=None, start_date=datetime(2024, 1, 1)):
        return FileSensor(task_id="wait_file", **kwargs)


def _poke(sensor: FileSensor) -> bool:
    return sensor.poke({})


@pytest.fixture(autouse=True)
def _no_fs_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLUICE_CONN_FS_DEFAULT", raising=False)


def _fs_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, path: Path) -> None:
    value = json.dumps({"conn_type": "fs", "extra": {"path": str(path)}})
    monkeypatch.setenv(f"SLUICE_CONN_{conn_id.upper()}", value)


def test_a_glob_matches_once_a_file_lands(tmp_path: Path) -> None:
    sensor = _sensor(filepath=str(tmp_path / "sales_*.csv"))
    (tmp_path / "sales.txt").touch()
    assert not _poke(sensor)
    (tmp_path / "sales_2024-03-15.csv").write_text("id\n1\n")
    assert _poke(sensor)


def test_a_folder_counts_once_a_file_is_somewhere_inside(tmp_path: Path) -> None:
    sensor = _sensor(filepath=str(tmp_path / "incoming"))
    assert not _poke(sensor)
    (tmp_path / "incoming" / "day" / "part").mkdir(parents=True)
    assert not _poke(sensor)
    (tmp_path / "incoming" / "day" / "part" / "chunk-0").touch()
    assert _poke(sensor)


def test_recursive_lets_double_star_cross_folders(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "ready.flag").touch()
    pattern = str(tmp_path / "**" / "ready.flag")
    assert not _poke(_sensor(filepath=pattern))
    assert _poke(_sensor(filepath=pattern, recursive=True))


def test_paths_are_relative_to_the_connections_base_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "orders.json").touch()
    _fs_connection(monkeypatch, "fs_default", tmp_path)
    assert _poke(_sensor(filepath="landing/*.json"))
    _fs_connection(monkeypatch, "fs_landing", tmp_path / "landing")
    assert _poke(_sensor(filepath="orders.json", fs_conn_id="fs_landing"))
    assert not _poke(_sensor(filepath="landing/orders.json", fs_conn_id="fs_landing"))
    # An absolute path ignores the base path.
    assert _poke(_sensor(filepath=str(tmp_path / "landing"), fs_conn_id="fs_landing"))


def test_without_fs_default_a_relative_path_is_used_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "here.txt").touch()
    assert _poke(_sensor(filepath="here.txt"))


def test_a_named_connection_must_exist() -> None:
    with pytest.raises(
        ConnectionNotFound,
        match=r"task 'wait_file' of DAG 'probe': connection 'fs_nowhere' is not defined",
    ):
        _poke(_sensor(filepath="x", fs_conn_id="fs_nowhere"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filepath": ""}, "filepath must be a non-empty path or glob pattern"),
        ({"filepath": 3}, "filepath must be a non-empty path or glob pattern"),
        ({"filepath": "x", "fs_conn_id": None}, "fs_conn_id must be a connection id"),
        ({"filepath": "x", "recursive": "yes"}, "recursive must be True or False"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DagDefinitionError, match=message):
        _sensor(**kwargs)


def test_a_templated_path_through_the_task_runner(stored: Stored, tmp_path: Path) -> None:
    stored.write(
        "files.py",
        f"""
        from sluice.integrations.filesystem import FileSensor

        with DAG("files", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            FileSensor(
                task_id="wait_file", filepath={str(tmp_path)!r} + "/{{{{ ds }}}}/*.done",
                mode="reschedule", poke_interval=300,
            )
        """,
    )
    run_id = stored.trigger("files")
    stored.run("files", run_id, "wait_file")
    assert stored.ti("files", run_id, "wait_file").state == S.UP_FOR_RESCHEDULE

    (tmp_path / "2024-03-15").mkdir()
    (tmp_path / "2024-03-15" / "load.done").touch()
    stored.run("files", run_id, "wait_file")
    assert stored.ti("files", run_id, "wait_file").state == S.SUCCESS
