"""``ObjectStorageHook``: one interface over S3 (and S3-compatible servers) and the local
filesystem, chosen by the connection.

- ``aws`` (or ``s3``) connections: login is the access key id, password the secret access
  key (neither: boto3's default credential chain); extra ``region_name``, ``endpoint_url``
  (MinIO, moto, any S3-compatible server), ``aws_session_token`` and ``config_kwargs``
  (botocore ``Config`` options).
- ``fs`` connections (Airflow's filesystem connection): extra ``path`` is the root folder;
  a bucket is a folder under it, and the bucket ``""`` or None is the root itself.
- ``conn_id=None``: the local filesystem with absolute paths (the root is ``/``), such as
  ``bucket="/data/in", key="2024/a.csv"`` or ``bucket=None, key="/data/in/2024/a.csv"``.

Wherever a method takes a bucket and a key, the bucket may be None and the key a full
``s3://bucket/key`` URL, as Airflow's S3Hook takes them.
"""

from __future__ import annotations

import fnmatch
import io
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import IO, Any

from sluice.integrations.hooks.base import BaseHook
from sluice.integrations.storage.backend import ObjectInfo, StorageBackend
from sluice.integrations.storage.errors import BucketNotFound, ObjectStorageError
from sluice.integrations.storage.local import LocalBackend
from sluice.integrations.storage.locations import split_location, wildcard_prefix

log = logging.getLogger("sluice.task")

S3_CONN_TYPES = ("aws", "s3")
FS_CONN_TYPES = ("fs",)
_MODES = {"r": (False, True), "rt": (False, True), "rb": (False, False),
          "w": (True, True), "wt": (True, True), "wb": (True, False)}  # fmt: skip
"""open() modes: (writing, text)."""


class ObjectStorageHook(BaseHook):
    """Reads and writes objects by bucket and key, on S3 or the local filesystem."""

    conn_name_attr = "conn_id"
    default_conn_name = "storage_default"

    def __init__(self, conn_id: str | None = default_conn_name) -> None:
        self.conn_id = conn_id

    @cached_property
    def backend(self) -> StorageBackend:
        """The backend the connection names (read on first use)."""
        if self.conn_id is None:
            return LocalBackend("/", "the local filesystem (conn_id=None)")
        conn = self.get_connection(self.conn_id)
        kind = conn.conn_type.lower()
        label = f"connection '{conn.conn_id}' ({kind})"
        if kind in S3_CONN_TYPES:
            from sluice.integrations.storage.s3 import S3Backend

            return S3Backend(conn, label)
        if kind in FS_CONN_TYPES:
            root = conn.extra_dejson.get("path")
            if not isinstance(root, str) or not root:
                raise ObjectStorageError(
                    f"{label} has no root folder: set its extra 'path', such as"
                    ' {"path": "/data/lake"}'
                )
            if not os.path.isabs(root):
                raise ObjectStorageError(
                    f"{label}: the root folder {root!r} (extra 'path') must be an absolute path"
                )
            return LocalBackend(root, f"connection '{conn.conn_id}' (fs, root {root})")
        raise ObjectStorageError(
            f"connection '{conn.conn_id}' is of type '{conn.conn_type}', which"
            " ObjectStorageHook cannot open: use 'aws' (or 's3') for S3 and S3-compatible"
            " servers, or 'fs' for a local folder"
        )

    @property
    def is_local(self) -> bool:
        """Whether objects are files of this machine."""
        return isinstance(self.backend, LocalBackend)

    # -- writing ---------------------------------------------------------------------

    def upload_file(
        self, local_path: str | os.PathLike[str], bucket: str | None, key: str, replace: bool = True
    ) -> None:
        """Store a local file as ``key``; ObjectExists if it is there and not ``replace``."""
        path = os.fspath(local_path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"cannot upload {path}: there is no such local file")
        bucket, key = split_location(bucket, key)
        log.info("uploading %s to %s", path, _shown(bucket, key))
        self.backend.upload_file(path, bucket, key, replace)

    def load_bytes(self, data: bytes, bucket: str | None, key: str, replace: bool = True) -> None:
        """Store ``data`` as ``key``."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"load_bytes takes bytes, not {type(data).__name__}")
        bucket, key = split_location(bucket, key)
        self.backend.load_bytes(bytes(data), bucket, key, replace)

    def load_string(
        self,
        data: str,
        bucket: str | None,
        key: str,
        replace: bool = True,
        encoding: str = "utf-8",
    ) -> None:
        """Store ``data`` encoded (UTF-8 unless told) as ``key``."""
        if not isinstance(data, str):
            raise TypeError(f"load_string takes a str, not {type(data).__name__}")
        self.load_bytes(data.encode(encoding), bucket, key, replace)

    # -- reading ---------------------------------------------------------------------

    def download_file(
        self, bucket: str | None, key: str, local_path: str | os.PathLike[str]
    ) -> str:
        """Write the object to ``local_path`` (its folders made); returns the path."""
        bucket, key = split_location(bucket, key)
        path = os.fspath(local_path)
        log.info("downloading %s to %s", _shown(bucket, key), path)
        self.backend.download_file(bucket, key, path)
        return path

    def read_bytes(self, bucket: str | None, key: str) -> bytes:
        """The object's bytes (the whole object in memory: use ``open`` for large ones)."""
        bucket, key = split_location(bucket, key)
        return self.backend.read_bytes(bucket, key)

    def read_string(self, bucket: str | None, key: str, encoding: str = "utf-8") -> str:
        """The object's bytes decoded (UTF-8 unless told)."""
        return self.read_bytes(bucket, key).decode(encoding)

    @contextmanager
    def open(
        self,
        bucket: str | None,
        key: str,
        mode: str = "rb",
        *,
        replace: bool = True,
        encoding: str = "utf-8",
        newline: str | None = None,
    ) -> Iterator[IO[Any]]:
        """A stream of the object: ``rb``/``r`` read it as it is consumed; ``wb``/``w``
        write it, and the object appears (whole) when the block ends without error.

        Text modes decode with ``encoding``; ``newline`` is as for the builtin ``open``
        (pass ``""`` for the csv module).
        """
        if mode not in _MODES:
            raise ValueError(f"open mode must be one of {', '.join(_MODES)}, not {mode!r}")
        writing, text = _MODES[mode]
        bucket, key = split_location(bucket, key)
        opened = (
            self.backend.open_write(bucket, key, replace)
            if writing
            else self.backend.open_read(bucket, key)
        )
        with opened as stream:
            if not text:
                yield stream
                return
            wrapper = io.TextIOWrapper(stream, encoding=encoding, newline=newline)
            try:
                yield wrapper
                if writing:
                    wrapper.flush()
            finally:
                # Leave the binary stream to the backend, which closes (and stores) it.
                if not wrapper.closed:
                    wrapper.detach()

    # -- looking -----------------------------------------------------------------------

    def list_objects(
        self,
        bucket: str | None,
        prefix: str = "",
        delimiter: str | None = None,
        page_size: int | None = None,
    ) -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order (all pages); with a
        ``delimiter``, keys holding it after the prefix are left out, as S3 leaves them to
        its common prefixes. ``page_size`` is how many keys one S3 request asks for."""
        if page_size is not None and (isinstance(page_size, bool) or page_size < 1):
            raise ValueError(f"page_size must be a positive integer, not {page_size!r}")
        return self.backend.list_objects(bucket, prefix or "", delimiter or None, page_size)

    def list_keys(
        self,
        bucket: str | None,
        prefix: str = "",
        delimiter: str | None = None,
        page_size: int | None = None,
    ) -> list[str]:
        """The keys of :meth:`list_objects`."""
        return [info.key for info in self.list_objects(bucket, prefix, delimiter, page_size)]

    def get_object_info(self, bucket: str | None, key: str) -> ObjectInfo | None:
        """The object's key, size and last change, or None when it does not exist."""
        bucket, key = split_location(bucket, key)
        return self.backend.head(bucket, key)

    def check_for_key(self, bucket: str | None, key: str) -> bool:
        """Whether the object exists (False when its bucket does not)."""
        return self.get_object_info(bucket, key) is not None

    def match_objects(self, bucket: str | None, pattern: str) -> list[ObjectInfo]:
        """The objects whose keys match the fnmatch ``pattern`` (``*`` crosses ``/``, as in
        Airflow), listing only under the part before its first wildcard; [] when the bucket
        does not exist."""
        bucket, pattern = split_location(bucket, pattern, key_param="pattern")
        try:
            listed = self.backend.list_objects(bucket, wildcard_prefix(pattern), None, None)
        except BucketNotFound:
            return []
        return [info for info in listed if fnmatch.fnmatchcase(info.key, pattern)]

    def check_for_wildcard_key(self, bucket: str | None, pattern: str) -> bool:
        """Whether any key matches the fnmatch ``pattern``."""
        return bool(self.match_objects(bucket, pattern))

    def check_for_bucket(self, bucket: str | None) -> bool:
        """Whether the bucket exists."""
        return self.backend.check_for_bucket(bucket)

    # -- changing ----------------------------------------------------------------------

    def delete_objects(self, bucket: str | None, keys: str | Iterable[str]) -> None:
        """Delete one key or many; keys that do not exist are not an error (as S3)."""
        wanted = [keys] if isinstance(keys, str) else list(keys)
        if not wanted:
            return
        pairs = [split_location(bucket, key, key_param="keys") for key in wanted]
        buckets = {b for b, _ in pairs}
        if len(buckets) > 1:
            raise ObjectStorageError(
                f"delete_objects deletes from one bucket at a time; these keys name"
                f" {len(buckets)}: {', '.join(sorted(repr(b) for b in buckets))}"
            )
        target = pairs[0][0]
        log.info("deleting %d key(s) from %s", len(pairs), _shown(target, ""))
        self.backend.delete_objects(target, [key for _, key in pairs])

    def copy_object(
        self,
        src_bucket: str | None,
        src_key: str,
        dest_bucket: str | None,
        dest_key: str,
    ) -> None:
        """Copy an object to another key (of the same connection), replacing it."""
        src_bucket, src_key = split_location(
            src_bucket, src_key, bucket_param="source bucket", key_param="source key"
        )
        dest_bucket, dest_key = split_location(
            dest_bucket, dest_key, bucket_param="destination bucket", key_param="destination key"
        )
        log.info("copying %s to %s", _shown(src_bucket, src_key), _shown(dest_bucket, dest_key))
        self.backend.copy_object(src_bucket, src_key, dest_bucket, dest_key)

    def create_bucket(self, bucket: str | None, region_name: str | None = None) -> None:
        """Create the bucket (in ``region_name``, on S3); an existing one is left alone."""
        self.backend.create_bucket(bucket, region_name)

    def test_connection(self) -> tuple[bool, str]:
        """Whether the storage answers, and what happened (as Airflow's Test button)."""
        try:
            backend = self.backend
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return backend.test_connection()


def _shown(bucket: str | None, key: str) -> str:
    if bucket is None:
        return key or "the root"
    return f"{bucket}/{key}" if key else bucket
