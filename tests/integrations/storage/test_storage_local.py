"""The local filesystem backend: the root is a wall, buckets are folders, writes are whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.integrations.storage.conftest import fs_connection

from sluice.integrations.errors import ConnectionNotFound
from sluice.integrations.lookup import connection_env_name
from sluice.integrations.storage import (
    BucketNotFound,
    ObjectStorageError,
    ObjectStorageHook,
    UnsafeKey,
)
from sluice.integrations.storage.local import PARTIAL_PREFIX, atomic_file


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The root of the fs connection ``lake``, with the bucket ``raw``."""
    root = tmp_path / "lake"
    (root / "raw").mkdir(parents=True)
    monkeypatch.setenv(connection_env_name("lake"), fs_connection(root))
    return root


ESCAPES = ["../outside.txt", "a/../../outside.txt", "..", "a/./b", "a/..", "x\x00y"]


@pytest.mark.parametrize("key", ESCAPES)
def test_keys_that_could_leave_the_root_are_refused(lake: Path, key: str) -> None:
    hook = ObjectStorageHook("lake")
    outside = lake.parent / "outside.txt"
    outside.write_text("secret")
    calls = [
        lambda: hook.load_string("x", "raw", key),
        lambda: hook.read_bytes("raw", key),
        lambda: hook.check_for_key("raw", key),
        lambda: hook.delete_objects("raw", [key]),
        lambda: hook.copy_object("raw", key, "raw", "copy.txt"),
        lambda: hook.copy_object("raw", "copy.txt", "raw", key),
        lambda: hook.download_file("raw", key, lake.parent / "dl.txt"),
        lambda: hook.list_keys("raw", prefix=key),
    ]
    for call in calls:
        with pytest.raises(UnsafeKey, match=r"connection 'lake' \(fs, root .*\): "):
            call()
    assert outside.read_text() == "secret"
    assert sorted(os.listdir(lake.parent)) == ["lake", "outside.txt"]


def test_buckets_that_could_leave_the_root_are_refused(lake: Path) -> None:
    hook = ObjectStorageHook("lake")
    with pytest.raises(UnsafeKey, match=r"bucket '\.\./elsewhere' holds a '\.' or '\.\.'"):
        hook.create_bucket("../elsewhere")
    with pytest.raises(UnsafeKey):
        hook.load_string("x", "..", "k")
    assert not (lake.parent / "elsewhere").exists()


def test_a_symbolic_link_out_of_the_root_is_refused(lake: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (lake / "raw" / "door").symlink_to(outside)
    (lake / "raw" / "file-door.txt").symlink_to(outside / "secret.txt")
    hook = ObjectStorageHook("lake")
    with pytest.raises(UnsafeKey, match="outside the root folder"):
        hook.read_string("raw", "door/secret.txt")
    with pytest.raises(UnsafeKey, match="outside the root folder"):
        hook.load_string("x", "raw", "door/new.txt")
    with pytest.raises(UnsafeKey, match="outside the root folder"):
        hook.read_string("raw", "file-door.txt")
    assert hook.list_keys("raw") == []  # links out of the root are not listed
    assert os.listdir(outside) == ["secret.txt"]
    # A link that stays inside the root is followed.
    (lake / "raw" / "real.txt").write_text("inside")
    (lake / "raw" / "alias.txt").symlink_to(lake / "raw" / "real.txt")
    assert hook.read_string("raw", "alias.txt") == "inside"


def test_keys_are_paths_inside_the_bucket_folder(lake: Path) -> None:
    hook = ObjectStorageHook("lake")
    hook.load_string("a", "raw", "2024/03/15/part-0.csv")
    hook.load_string("b", "raw", "/leading//slashes/are/ignored.txt")
    assert (lake / "raw" / "2024" / "03" / "15" / "part-0.csv").read_text() == "a"
    assert (lake / "raw" / "leading" / "slashes" / "are" / "ignored.txt").read_text() == "b"
    assert hook.list_keys("raw") == ["2024/03/15/part-0.csv", "leading/slashes/are/ignored.txt"]
    with pytest.raises(UnsafeKey, match="ends with '/'"):
        hook.load_string("x", "raw", "folder/")
    with pytest.raises(UnsafeKey, match="the key is empty"):
        hook.load_string("x", "raw", "")


def test_the_root_is_the_bucket_none_or_empty(lake: Path) -> None:
    hook = ObjectStorageHook("lake")
    hook.load_string("top", None, "top.txt")
    hook.load_string("raw", "", "raw/inside.txt")
    assert (lake / "top.txt").read_text() == "top"
    assert hook.read_string("raw", "inside.txt") == "raw"
    assert hook.list_keys(None) == ["raw/inside.txt", "top.txt"]
    assert hook.list_keys("", delimiter="/") == ["top.txt"]
    assert hook.check_for_bucket(None)


def test_a_key_cannot_be_an_object_and_a_folder(lake: Path) -> None:
    hook = ObjectStorageHook("lake")
    hook.load_string("file", "raw", "a")
    with pytest.raises(ObjectStorageError, match="cannot be both an object and the folder"):
        hook.load_string("x", "raw", "a/b")
    hook.load_string("file", "raw", "c/d")
    with pytest.raises(ObjectStorageError, match="cannot be both an object and the folder"):
        hook.load_string("x", "raw", "c")
    assert hook.list_keys("raw") == ["a", "c/d"]


def test_files_being_written_are_not_listed(lake: Path) -> None:
    hook = ObjectStorageHook("lake")
    with hook.open("raw", "growing.csv", "w") as out:
        out.write("a,b\n")
        out.flush()
        partial = [p for p in os.listdir(lake / "raw") if p.startswith(PARTIAL_PREFIX)]
        assert len(partial) == 1
        assert hook.list_keys("raw") == []
        assert not hook.check_for_key("raw", "growing.csv")
    assert hook.list_keys("raw") == ["growing.csv"]
    assert os.listdir(lake / "raw") == ["growing.csv"]


def test_written_files_get_the_modes_of_the_umask(lake: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_file(lake / "raw" / "moded.txt") as out:
            out.write(b"x")
    finally:
        os.umask(old)
    assert (lake / "raw" / "moded.txt").stat().st_mode & 0o777 == 0o644


def test_conn_id_none_reads_and_writes_absolute_paths(tmp_path: Path) -> None:
    hook = ObjectStorageHook(None)
    folder = tmp_path / "abs"
    hook.create_bucket(str(folder))
    hook.load_string("hello", str(folder), "sub/file.txt")
    assert (folder / "sub" / "file.txt").read_text() == "hello"
    assert hook.read_string(None, str(folder / "sub" / "file.txt")) == "hello"
    assert hook.list_keys(str(folder)) == ["sub/file.txt"]
    assert hook.test_connection()[0] == os.access("/", os.W_OK | os.X_OK)
    with pytest.raises(UnsafeKey):
        hook.read_string(str(folder), "../abs/sub/file.txt")


def test_a_missing_bucket_is_not_created_by_a_write(lake: Path) -> None:
    hook = ObjectStorageHook("lake")
    with pytest.raises(BucketNotFound, match=r"bucket 'curated' does not exist \(no folder"):
        hook.load_string("x", "curated", "k")
    assert not (lake / "curated").exists()


def test_fs_connection_without_a_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(connection_env_name("lake"), json.dumps({"conn_type": "fs"}))
    with pytest.raises(ObjectStorageError, match=r"'lake' \(fs\) has no root folder.*'path'"):
        ObjectStorageHook("lake").list_keys(None)
    ok, message = ObjectStorageHook("lake").test_connection()
    assert not ok
    assert "has no root folder" in message


def test_fs_connection_with_a_relative_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(connection_env_name("lake"), "fs://?path=data%2Flake")
    with pytest.raises(ObjectStorageError, match=r"'data/lake' .* must be an absolute path"):
        ObjectStorageHook("lake").list_keys(None)


def test_fs_connection_whose_root_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(connection_env_name("lake"), fs_connection(tmp_path / "nowhere"))
    hook = ObjectStorageHook("lake")
    ok, message = hook.test_connection()
    assert not ok
    assert "the root folder" in message and "does not exist" in message
    with pytest.raises(BucketNotFound, match=r"the root folder .*nowhere does not exist"):
        hook.list_keys(None)


def test_fs_connection_from_a_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "uri-root"
    root.mkdir()
    monkeypatch.setenv(connection_env_name("lake"), "fs://?path=" + str(root).replace("/", "%2F"))
    hook = ObjectStorageHook("lake")
    hook.load_string("x", None, "k.txt")
    assert (root / "k.txt").read_text() == "x"


def test_connection_of_another_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(connection_env_name("lake"), "postgresql://u:p@db:5432/x")
    with pytest.raises(
        ObjectStorageError,
        match=r"connection 'lake' is of type 'postgres', which ObjectStorageHook cannot open:"
        r" use 'aws' \(or 's3'\) .* or 'fs'",
    ):
        ObjectStorageHook("lake").read_bytes("b", "k")


def test_undefined_connection() -> None:
    with pytest.raises(ConnectionNotFound, match="connection 'nowhere_lake' is not defined"):
        ObjectStorageHook("nowhere_lake").list_keys("b")
