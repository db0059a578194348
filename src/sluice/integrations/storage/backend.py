"""What every storage backend does: the few primitives the hook builds its methods on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO


@dataclass(frozen=True)
class ObjectInfo:
    """One object of a listing or a lookup: its key, size in bytes and last change (UTC)."""

    key: str
    size: int
    last_modified: datetime

    def as_dict(self) -> dict[str, object]:
        """The object as S3 describes it in a listing (``Key``, ``Size``, ``LastModified``),
        which is what an ``ObjectStorageKeySensor``'s ``check_fn`` receives."""
        return {"Key": self.key, "Size": self.size, "LastModified": self.last_modified}


class StorageBackend(ABC):
    """A place that holds objects by bucket and key; the bucket and key are already split
    (no URLs here) and ``bucket`` may be None where the backend has a default."""

    label: str
    """Names the connection in error messages, such as ``connection 'lake' (aws)``."""

    @abstractmethod
    def upload_file(self, local_path: str, bucket: str | None, key: str, replace: bool) -> None:
        """Store the local file's bytes as ``key``."""

    @abstractmethod
    def load_bytes(self, data: bytes, bucket: str | None, key: str, replace: bool) -> None:
        """Store ``data`` as ``key``."""

    @abstractmethod
    def download_file(self, bucket: str | None, key: str, local_path: str) -> None:
        """Write the object's bytes to ``local_path`` (replaced whole, never half-written)."""

    @abstractmethod
    def read_bytes(self, bucket: str | None, key: str) -> bytes:
        """The object's bytes."""

    @abstractmethod
    def open_read(self, bucket: str | None, key: str) -> AbstractContextManager[BinaryIO]:
        """A binary stream of the object, read as it is consumed."""

    @abstractmethod
    def open_write(
        self, bucket: str | None, key: str, replace: bool
    ) -> AbstractContextManager[BinaryIO]:
        """A binary stream whose bytes become the object when the block ends without error
        (and are dropped if it raises)."""

    @abstractmethod
    def list_objects(
        self, bucket: str | None, prefix: str, delimiter: str | None, page_size: int | None
    ) -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (keys that hold ``delimiter`` after
        the prefix left out, as S3's listing leaves them to its common prefixes), in key
        order; ``page_size`` keys per request where the backend pages."""

    @abstractmethod
    def head(self, bucket: str | None, key: str) -> ObjectInfo | None:
        """The object's size and time, or None when it (or its bucket) does not exist."""

    @abstractmethod
    def delete_objects(self, bucket: str | None, keys: Iterable[str]) -> None:
        """Delete the keys; a key that does not exist is not an error (as S3)."""

    @abstractmethod
    def copy_object(
        self, src_bucket: str | None, src_key: str, dest_bucket: str | None, dest_key: str
    ) -> None:
        """Copy an object, replacing the destination."""

    @abstractmethod
    def create_bucket(self, bucket: str | None, region_name: str | None) -> None:
        """Create the bucket; one that exists already is left as it is."""

    @abstractmethod
    def check_for_bucket(self, bucket: str | None) -> bool:
        """Whether the bucket exists."""

    @abstractmethod
    def test_connection(self) -> tuple[bool, str]:
        """Whether the storage answers, and what happened."""
