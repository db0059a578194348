"""The errors of object storage: one base, and the few cases a task may want to catch.

The not-found errors are also ``FileNotFoundError`` and the exists error a
``FileExistsError``, so that code written against files catches them as it would.
"""

from __future__ import annotations

from sluice.integrations.errors import IntegrationError


class ObjectStorageError(IntegrationError):
    """Raised when a storage connection is unusable or the storage refuses a request."""


class BucketNotFound(ObjectStorageError, FileNotFoundError):
    """Raised when a bucket (a folder, on the local filesystem) does not exist."""

    def __str__(self) -> str:
        # OSError's str() would add "[Errno ...]" when given two arguments; this is a sentence.
        return str(self.args[0]) if self.args else ""


class ObjectNotFound(ObjectStorageError, FileNotFoundError):
    """Raised when a key does not exist in its bucket."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ObjectExists(ObjectStorageError, FileExistsError):
    """Raised when a write with ``replace=False`` finds the key already there."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnsafeKey(ObjectStorageError, ValueError):
    """Raised when a key or bucket would reach outside a local backend's root folder
    (``..``, or a symbolic link that leads out), or is not a usable object name."""


class InvalidLocation(ObjectStorageError, ValueError):
    """Raised when a bucket and key cannot name an object: no bucket, an empty key, a URL
    of another scheme, or a URL given together with a bucket."""
