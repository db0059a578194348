"""Object storage: S3 (and S3-compatible servers) and the local filesystem behind one hook,
with operators, a key sensor, and transfers to and from SQL databases.

Importing this package imports neither boto3 nor pyarrow nor SQLAlchemy: each is imported
when a task first needs it.
"""

from __future__ import annotations

from sluice.integrations.storage.backend import ObjectInfo
from sluice.integrations.storage.errors import (
    BucketNotFound,
    InvalidLocation,
    ObjectExists,
    ObjectNotFound,
    ObjectStorageError,
    UnsafeKey,
)
from sluice.integrations.storage.hook import ObjectStorageHook
from sluice.integrations.storage.locations import parse_url
from sluice.integrations.storage.operators import (
    LocalFilesystemToObjectStorageOperator,
    ObjectStorageCopyObjectOperator,
    ObjectStorageCreateBucketOperator,
    ObjectStorageDeleteObjectsOperator,
    ObjectStorageListOperator,
    ObjectStorageToLocalFilesystemOperator,
)
from sluice.integrations.storage.sensors import ObjectStorageKeySensor
from sluice.integrations.storage.transfers import (
    ObjectStorageToSqlOperator,
    SqlToObjectStorageOperator,
    TransferError,
)

__all__ = [
    "BucketNotFound",
    "InvalidLocation",
    "LocalFilesystemToObjectStorageOperator",
    "ObjectExists",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStorageCopyObjectOperator",
    "ObjectStorageCreateBucketOperator",
    "ObjectStorageDeleteObjectsOperator",
    "ObjectStorageError",
    "ObjectStorageHook",
    "ObjectStorageKeySensor",
    "ObjectStorageListOperator",
    "ObjectStorageToLocalFilesystemOperator",
    "ObjectStorageToSqlOperator",
    "SqlToObjectStorageOperator",
    "TransferError",
    "UnsafeKey",
    "parse_url",
]
