"""The local filesystem as object storage: buckets are folders under a root folder.

A key is a ``/``-separated path inside its bucket's folder; empty segments are ignored
(``a//b`` is ``a/b``), and ``.`` or ``..`` segments are refused, as is any path that a
symbolic link would lead out of the root: a local backend never reads or writes outside
its root. Writes go to a hidden ``.sluice-partial-*`` file next to the object, renamed into
place when complete, so that a reader or a sensor never sees half an object.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, cast

from sluice.integrations.storage.backend import ObjectInfo, StorageBackend
from sluice.integrations.storage.errors import (
    BucketNotFound,
    ObjectExists,
    ObjectNotFound,
    ObjectStorageError,
    UnsafeKey,
)

PARTIAL_PREFIX = ".sluice-partial-"
"""Names of files being written; listings leave them out."""

_CHUNK = 1024 * 1024


@contextmanager
def atomic_file(path: Path, *, replace: bool = True) -> Iterator[BinaryIO]:
    """A binary file that appears at ``path`` whole when the block ends, or not at all.

    With ``replace=False`` an existing ``path`` raises FileExistsError, checked when the
    file is put in place (a hard link cannot overwrite), so two writers cannot both win.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.parent / f"{PARTIAL_PREFIX}{secrets.token_hex(8)}-{path.name}"
    # os.open with 0o666 lets the umask decide the mode, as a plain open() would.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
        if replace:
            os.replace(partial, path)
        else:
            _link_new(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)


def _link_new(partial: Path, path: Path) -> None:
    try:
        os.link(partial, path)
    except FileExistsError:
        raise
    except OSError:
        # A filesystem without hard links: check, then rename (not atomic, but close).
        if path.exists():
            raise FileExistsError(str(path)) from None
        os.replace(partial, path)


class LocalBackend(StorageBackend):
    """Objects as files under ``root``; a bucket is a folder under it, and the bucket
    ``""`` (or None) is the root itself."""

    def __init__(self, root: str | Path, label: str) -> None:
        self.root = Path(root)
        self.label = label

    # -- where things are ------------------------------------------------------------

    def bucket_path(self, bucket: str | None) -> Path:
        """The folder of ``bucket`` (checked to be inside the root, not to exist)."""
        if bucket is None or bucket == "":
            return self.root
        return self._inside(self.root.joinpath(*self._segments(bucket, "bucket")), bucket)

    def object_path(self, bucket: str | None, key: str) -> Path:
        """The file of ``key`` in ``bucket`` (checked to be inside the root)."""
        if key.endswith("/"):
            raise UnsafeKey(
                f"{self.label}: key {key!r} ends with '/': a folder, not an object, on the"
                " local filesystem"
            )
        segments = self._segments(key, "key")
        if not segments:
            raise UnsafeKey(f"{self.label}: the key is empty: name an object")
        folder = self.bucket_path(bucket)
        return self._inside(folder.joinpath(*segments), key)

    def _segments(self, name: str, what: str) -> list[str]:
        if "\x00" in name:
            raise UnsafeKey(f"{self.label}: {what} {name!r} holds a NUL character")
        segments = [part for part in name.split("/") if part]
        if any(part in (".", "..") for part in segments):
            raise UnsafeKey(
                f"{self.label}: {what} {name!r} holds a '.' or '..' segment, which could reach"
                f" outside the root folder {self.root}; name it without them"
            )
        return segments

    def _inside(self, path: Path, name: str) -> Path:
        """``path`` if it stays inside the root once symbolic links are followed."""
        root = os.path.realpath(self.root)
        real = os.path.realpath(path)
        if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
            raise UnsafeKey(
                f"{self.label}: {name!r} leads to {real}, outside the root folder {self.root}"
                " (through a symbolic link)"
            )
        return path

    def _existing_bucket(self, bucket: str | None) -> Path:
        folder = self.bucket_path(bucket)
        if not folder.is_dir():
            if bucket:
                raise BucketNotFound(
                    f"{self.label}: bucket {bucket!r} does not exist (no folder {folder});"
                    " create it first (ObjectStorageCreateBucketOperator)"
                )
            raise BucketNotFound(f"{self.label}: the root folder {folder} does not exist")
        return folder

    def _existing_object(self, bucket: str | None, key: str) -> Path:
        path = self.object_path(bucket, key)
        if not path.is_file():
            self._existing_bucket(bucket)
            raise ObjectNotFound(
                f"{self.label}: key {key!r} does not exist in {_bucket_name(bucket)} (no file"
                f" {path})"
            )
        return path

    @contextmanager
    def _writer(self, bucket: str | None, key: str, replace: bool) -> Iterator[BinaryIO]:
        path = self.object_path(bucket, key)
        self._existing_bucket(bucket)
        body_failed = False
        try:
            with atomic_file(path, replace=replace) as stream:
                try:
                    yield stream
                except BaseException:
                    body_failed = True  # the caller's error, not the filesystem's: pass it on
                    raise
        except FileExistsError:
            if body_failed:
                raise
            if path.is_file():
                raise ObjectExists(
                    f"{self.label}: key {key!r} already exists in {_bucket_name(bucket)};"
                    " pass replace=True to overwrite it"
                ) from None
            raise self._folder_clash(key, path) from None
        except (IsADirectoryError, NotADirectoryError):
            if body_failed:
                raise
            raise self._folder_clash(key, path) from None

    def _folder_clash(self, key: str, path: Path) -> ObjectStorageError:
        return ObjectStorageError(
            f"{self.label}: cannot write key {key!r} at {path}: on the local filesystem a key"
            " cannot be both an object and the folder of other keys (such as 'a' and 'a/b')"
        )

    # -- the primitives --------------------------------------------------------------

    def upload_file(self, local_path: str, bucket: str | None, key: str, replace: bool) -> None:
        """Copy the local file in as ``key``."""
        with open(local_path, "rb") as source, self._writer(bucket, key, replace) as out:
            shutil.copyfileobj(source, out, _CHUNK)

    def load_bytes(self, data: bytes, bucket: str | None, key: str, replace: bool) -> None:
        """Write ``data`` as ``key``."""
        with self._writer(bucket, key, replace) as out:
            out.write(data)

    def download_file(self, bucket: str | None, key: str, local_path: str) -> None:
        """Copy the object to ``local_path``."""
        path = self._existing_object(bucket, key)
        with open(path, "rb") as source, atomic_file(Path(local_path)) as out:
            shutil.copyfileobj(source, out, _CHUNK)

    def read_bytes(self, bucket: str | None, key: str) -> bytes:
        """The file's bytes."""
        return self._existing_object(bucket, key).read_bytes()

    def open_read(self, bucket: str | None, key: str) -> AbstractContextManager[BinaryIO]:
        """The file, open for reading."""
        return cast(BinaryIO, open(self._existing_object(bucket, key), "rb"))

    def open_write(
        self, bucket: str | None, key: str, replace: bool
    ) -> AbstractContextManager[BinaryIO]:
        """A partial file renamed to the key's when the block ends."""
        return self._writer(bucket, key, replace)

    def list_objects(
        self, bucket: str | None, prefix: str, delimiter: str | None, page_size: int | None
    ) -> list[ObjectInfo]:
        """The files under the bucket's folder whose keys match, in S3's key order."""
        folder = self._existing_bucket(bucket)
        self._segments(prefix, "prefix")
        # Only the folder the prefix's complete segments name can hold matching files.
        start = folder.joinpath(*[p for p in prefix.split("/")[:-1] if p])
        if not start.is_dir():
            return []
        root = os.path.realpath(self.root).rstrip(os.sep) + os.sep
        found: list[ObjectInfo] = []
        for dirpath, dirnames, filenames in os.walk(start):
            if delimiter == "/":
                # Every key below the prefix's folder holds a '/' after the prefix.
                dirnames.clear()
            for name in filenames:
                if name.startswith(PARTIAL_PREFIX):
                    continue
                path = Path(dirpath, name)
                key = path.relative_to(folder).as_posix()
                if not key.startswith(prefix):
                    continue
                if delimiter and delimiter in key[len(prefix) :]:
                    continue
                if path.is_symlink() and not os.path.realpath(path).startswith(root):
                    continue  # a link out of the root is not an object of this backend
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue  # deleted while listing, or a dangling link
                found.append(_info(key, stat))
        found.sort(key=lambda info: info.key.encode())
        return found

    def head(self, bucket: str | None, key: str) -> ObjectInfo | None:
        """The file's size and time, or None."""
        path = self.object_path(bucket, key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        return _info(key, stat)

    def delete_objects(self, bucket: str | None, keys: Iterable[str]) -> None:
        """Remove the files (missing ones are not an error)."""
        self._existing_bucket(bucket)
        paths = [self.object_path(bucket, key) for key in keys]  # every key checked first
        for path in paths:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
                path.unlink()

    def copy_object(
        self, src_bucket: str | None, src_key: str, dest_bucket: str | None, dest_key: str
    ) -> None:
        """Copy a file to another key (the destination replaced whole)."""
        self.object_path(dest_bucket, dest_key)  # a bad destination is named first
        source = self._existing_object(src_bucket, src_key)
        with open(source, "rb") as stream, self._writer(dest_bucket, dest_key, True) as out:
            shutil.copyfileobj(stream, out, _CHUNK)

    def create_bucket(self, bucket: str | None, region_name: str | None) -> None:
        """Make the bucket's folder (and the root's, if missing)."""
        folder = self.bucket_path(bucket)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise ObjectStorageError(
                f"{self.label}: cannot create bucket {bucket!r}: {folder} is a file"
            ) from None

    def check_for_bucket(self, bucket: str | None) -> bool:
        """Whether the bucket's folder exists."""
        return self.bucket_path(bucket).is_dir()

    def test_connection(self) -> tuple[bool, str]:
        """Whether the root folder exists and this process may write in it."""
        if not self.root.is_dir():
            return False, f"{self.label}: the root folder {self.root} does not exist"
        if not os.access(self.root, os.W_OK | os.X_OK):
            return False, f"{self.label}: this process may not write in {self.root}"
        return True, "Connection successfully tested"


def _info(key: str, stat: os.stat_result) -> ObjectInfo:
    return ObjectInfo(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))


def _bucket_name(bucket: str | None) -> str:
    return f"bucket {bucket!r}" if bucket else "the root folder"
