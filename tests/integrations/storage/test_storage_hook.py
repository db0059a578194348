"""ObjectStorageHook: every method, the same on moto's S3 server and on a local folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.integrations.storage.conftest import Storage, new_bucket_name

from sluice.integrations.storage import (
    BucketNotFound,
    InvalidLocation,
    ObjectExists,
    ObjectNotFound,
    ObjectStorageError,
)

# -- writing and reading --------------------------------------------------------------


def test_load_and_read_bytes_and_strings(storage: Storage) -> None:
    hook = storage.hook()
    hook.load_bytes(b"\x00\x01binary", storage.bucket, "raw/data.bin")
    hook.load_string("héllo wörld", storage.bucket, "text/greeting.txt")
    assert hook.read_bytes(storage.bucket, "raw/data.bin") == b"\x00\x01binary"
    assert hook.read_string(storage.bucket, "text/greeting.txt") == "héllo wörld"
    hook.load_string("latin", storage.bucket, "latin.txt", encoding="latin-1")
    hook.load_string("café", storage.bucket, "latin.txt", encoding="latin-1")
    assert hook.read_bytes(storage.bucket, "latin.txt") == "café".encode("latin-1")
    assert hook.read_string(storage.bucket, "latin.txt", encoding="latin-1") == "café"


def test_replace_false_refuses_an_existing_key(storage: Storage, tmp_path: Path) -> None:
    hook = storage.hook()
    hook.load_string("first", storage.bucket, "k.txt", replace=False)
    with pytest.raises(ObjectExists, match=r"key 'k.txt' already exists.*replace=True"):
        hook.load_string("second", storage.bucket, "k.txt", replace=False)
    local = tmp_path / "upload.txt"
    local.write_text("third")
    with pytest.raises(ObjectExists):
        hook.upload_file(local, storage.bucket, "k.txt", replace=False)
    # An ObjectExists is a FileExistsError too.
    writer = hook.open(storage.bucket, "k.txt", "w", replace=False)
    with pytest.raises(FileExistsError), writer as out:
        out.write("fourth")
    assert hook.read_string(storage.bucket, "k.txt") == "first"
    hook.load_string("fifth", storage.bucket, "k.txt")  # replace=True by default
    assert hook.read_string(storage.bucket, "k.txt") == "fifth"


def test_upload_and_download_files(storage: Storage, tmp_path: Path) -> None:
    hook = storage.hook()
    source = tmp_path / "source.csv"
    payload = os.urandom(300_000)
    source.write_bytes(payload)
    hook.upload_file(source, storage.bucket, "in/2024/source.csv")
    target = tmp_path / "made" / "by" / "download.csv"
    assert hook.download_file(storage.bucket, "in/2024/source.csv", target) == str(target)
    assert target.read_bytes() == payload
    # No partial file is left next to the download.
    assert os.listdir(target.parent) == ["download.csv"]
    # Downloading again replaces the file.
    hook.load_bytes(b"new", storage.bucket, "in/2024/source.csv")
    hook.download_file(storage.bucket, "in/2024/source.csv", str(target))
    assert target.read_bytes() == b"new"


def test_upload_of_a_missing_local_file(storage: Storage, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match=r"cannot upload .*nope.csv: there is no such"):
        storage.hook().upload_file(missing, storage.bucket, "k")


def test_open_streams_binary_and_text(storage: Storage) -> None:
    hook = storage.hook()
    chunk = bytes(range(256)) * 4096  # 1 MiB
    with hook.open(storage.bucket, "big.bin", "wb") as out:
        for _ in range(3):
            out.write(chunk)
    with hook.open(storage.bucket, "big.bin", "rb") as stream:
        parts = []
        while part := stream.read(100_000):
            parts.append(part)
    assert b"".join(parts) == chunk * 3
    assert max(len(p) for p in parts) == 100_000

    with hook.open(storage.bucket, "lines.csv", "w", newline="") as text:
        text.write("a,b\r\n1,é\r\n")
    with hook.open(storage.bucket, "lines.csv", "r", newline="") as text:
        assert list(text) == ["a,b\r\n", "1,é\r\n"]
    with hook.open(storage.bucket, "lines.csv", "r") as text:
        assert text.read() == "a,b\n1,é\n"


def test_a_write_that_fails_stores_nothing(storage: Storage) -> None:
    hook = storage.hook()
    with pytest.raises(RuntimeError, match="midway"), hook.open(storage.bucket, "x", "w") as out:
        out.write("half")
        raise RuntimeError("midway")
    assert not hook.check_for_key(storage.bucket, "x")
    assert hook.list_keys(storage.bucket) == []


def test_open_refuses_an_unknown_mode(storage: Storage) -> None:
    hook = storage.hook()
    with (
        pytest.raises(ValueError, match=r"open mode must be one of .*'a\+'"),
        hook.open(storage.bucket, "k", "a+"),
    ):
        pass


# -- looking ---------------------------------------------------------------------------


def _fill(storage: Storage, keys: list[str]) -> None:
    hook = storage.hook()
    for key in keys:
        hook.load_string(key, storage.bucket, key)


def test_list_keys_with_prefix_delimiter_and_pages(storage: Storage) -> None:
    keys = ["a.csv", "data/2024/01.csv", "data/2024/02.csv", "data/top.csv", "data2/x.csv"]
    _fill(storage, keys)
    hook = storage.hook()
    assert hook.list_keys(storage.bucket) == keys
    assert hook.list_keys(storage.bucket, prefix="data/") == keys[1:4]
    assert hook.list_keys(storage.bucket, prefix="data") == keys[1:]
    assert hook.list_keys(storage.bucket, prefix="data/", delimiter="/") == ["data/top.csv"]
    assert hook.list_keys(storage.bucket, delimiter="/") == ["a.csv"]
    assert hook.list_keys(storage.bucket, prefix="data/2024/0") == keys[1:3]
    assert hook.list_keys(storage.bucket, prefix="nothing/") == []
    # Pages of two keys: every page is read.
    assert hook.list_keys(storage.bucket, page_size=2) == keys
    infos = hook.list_objects(storage.bucket, prefix="a")
    assert [(i.key, i.size) for i in infos] == [("a.csv", len("a.csv"))]
    assert infos[0].last_modified.tzinfo is not None
    with pytest.raises(ValueError, match="page_size must be a positive integer"):
        hook.list_keys(storage.bucket, page_size=0)


def test_check_for_key_and_object_info(storage: Storage) -> None:
    _fill(storage, ["dir/file.txt"])
    hook = storage.hook()
    assert hook.check_for_key(storage.bucket, "dir/file.txt")
    assert not hook.check_for_key(storage.bucket, "dir/other.txt")
    assert not hook.check_for_key(storage.bucket, "dir")  # a "folder" is not an object
    assert not hook.check_for_key(new_bucket_name(), "dir/file.txt")  # no such bucket
    info = hook.get_object_info(storage.bucket, "dir/file.txt")
    assert info is not None
    assert (info.key, info.size) == ("dir/file.txt", len("dir/file.txt"))
    assert hook.get_object_info(storage.bucket, "nope") is None


def test_wildcard_keys(storage: Storage) -> None:
    _fill(storage, ["in/a.csv", "in/b.json", "in/sub/c.csv", "out/d.csv"])
    hook = storage.hook()
    assert hook.check_for_wildcard_key(storage.bucket, "in/*.csv")
    assert [i.key for i in hook.match_objects(storage.bucket, "in/*.csv")] == [
        "in/a.csv",
        "in/sub/c.csv",  # * crosses '/', as fnmatch (and Airflow)
    ]
    assert [i.key for i in hook.match_objects(storage.bucket, "*/?.csv")] == [
        "in/a.csv",
        "in/sub/c.csv",
        "out/d.csv",
    ]
    assert [i.key for i in hook.match_objects(storage.bucket, "in/[ab].*")] == [
        "in/a.csv",
        "in/b.json",
    ]
    assert not hook.check_for_wildcard_key(storage.bucket, "in/*.parquet")
    assert not hook.check_for_wildcard_key(storage.bucket, "IN/*.csv")  # case matters
    assert not hook.check_for_wildcard_key(new_bucket_name(), "*")


def test_s3_urls_name_the_bucket(storage: Storage) -> None:
    hook = storage.hook()
    url = f"s3://{storage.bucket}/by/url.txt"
    hook.load_string("via url", None, url)
    assert hook.read_string(storage.bucket, "by/url.txt") == "via url"
    assert hook.read_string(None, url) == "via url"
    assert hook.check_for_key(None, url)
    assert hook.check_for_wildcard_key(None, f"s3://{storage.bucket}/by/*.txt")
    with pytest.raises(InvalidLocation, match=r"is a URL while bucket .* is given too"):
        hook.read_string(storage.bucket, url)
    with pytest.raises(InvalidLocation, match=r"scheme 'gs://'"):
        hook.read_string(None, "gs://elsewhere/x")
    with pytest.raises(InvalidLocation, match="names no bucket"):
        hook.read_string(None, "s3:///x")


# -- changing --------------------------------------------------------------------------


def test_delete_objects(storage: Storage) -> None:
    _fill(storage, ["a", "b", "c/d", "c/e"])
    hook = storage.hook()
    hook.delete_objects(storage.bucket, "a")
    assert hook.list_keys(storage.bucket) == ["b", "c/d", "c/e"]
    hook.delete_objects(storage.bucket, ["c/d", "c/e", "never-there"])
    assert hook.list_keys(storage.bucket) == ["b"]
    hook.delete_objects(storage.bucket, [])
    assert hook.list_keys(storage.bucket) == ["b"]
    hook.delete_objects(None, [f"s3://{storage.bucket}/b"])
    assert hook.list_keys(storage.bucket) == []


def test_delete_objects_from_two_buckets_at_once_is_refused(storage: Storage) -> None:
    with pytest.raises(ObjectStorageError, match="one bucket at a time"):
        storage.hook().delete_objects(None, ["s3://one-bucket/a", "s3://two-bucket/b"])


def test_copy_object_within_and_across_buckets(storage: Storage) -> None:
    hook = storage.hook()
    other = storage.new_bucket()
    hook.load_bytes(b"payload", storage.bucket, "src/a.bin")
    hook.copy_object(storage.bucket, "src/a.bin", storage.bucket, "copy/a.bin")
    hook.copy_object(storage.bucket, "src/a.bin", other, "elsewhere/a.bin")
    hook.load_bytes(b"old", other, "replaced.bin")
    hook.copy_object(None, f"s3://{storage.bucket}/src/a.bin", None, f"s3://{other}/replaced.bin")
    assert hook.read_bytes(storage.bucket, "copy/a.bin") == b"payload"
    assert hook.read_bytes(other, "elsewhere/a.bin") == b"payload"
    assert hook.read_bytes(other, "replaced.bin") == b"payload"
    assert hook.read_bytes(storage.bucket, "src/a.bin") == b"payload"


def test_create_bucket_is_idempotent(storage: Storage) -> None:
    hook = storage.hook()
    name = new_bucket_name()
    assert not hook.check_for_bucket(name)
    hook.create_bucket(name)
    assert hook.check_for_bucket(name)
    hook.load_string("kept", name, "k")
    hook.create_bucket(name)
    assert hook.read_string(name, "k") == "kept"


def test_test_connection(storage: Storage) -> None:
    assert storage.hook().test_connection() == (True, "Connection successfully tested")


# -- what is missing ---------------------------------------------------------------------


def test_missing_bucket(storage: Storage, tmp_path: Path) -> None:
    hook = storage.hook()
    gone = new_bucket_name()
    local = tmp_path / "f.txt"
    local.write_text("x")
    message = f"bucket '{gone}' does not exist"
    calls = {
        "read_bytes": lambda: hook.read_bytes(gone, "k"),
        "download_file": lambda: hook.download_file(gone, "k", tmp_path / "out"),
        "list_keys": lambda: hook.list_keys(gone),
        "load_string": lambda: hook.load_string("x", gone, "k"),
        "upload_file": lambda: hook.upload_file(local, gone, "k"),
        "delete_objects": lambda: hook.delete_objects(gone, ["k"]),
        "copy from": lambda: hook.copy_object(gone, "k", storage.bucket, "k"),
    }
    for call in calls.values():
        with pytest.raises(BucketNotFound, match=message):
            call()
    hook.load_string("x", storage.bucket, "here")
    with pytest.raises(BucketNotFound, match=message):
        hook.copy_object(storage.bucket, "here", gone, "k")
    with pytest.raises(BucketNotFound, match=message), hook.open(gone, "k", "rb"):
        pass


def test_missing_key(storage: Storage, tmp_path: Path) -> None:
    hook = storage.hook()
    message = f"key 'no/such.txt' does not exist in bucket '{storage.bucket}'"
    with pytest.raises(ObjectNotFound, match=message):
        hook.read_bytes(storage.bucket, "no/such.txt")
    with pytest.raises(FileNotFoundError, match=message):  # an ObjectNotFound is one too
        hook.read_string(storage.bucket, "no/such.txt")
    with pytest.raises(ObjectNotFound, match=message):
        hook.download_file(storage.bucket, "no/such.txt", tmp_path / "out.txt")
    assert not (tmp_path / "out.txt").exists()
    with pytest.raises(ObjectNotFound, match=message), hook.open(storage.bucket, "no/such.txt"):
        pass
    with pytest.raises(ObjectNotFound, match=message):
        hook.copy_object(storage.bucket, "no/such.txt", storage.bucket, "copy.txt")
    assert not hook.check_for_key(storage.bucket, "copy.txt")
