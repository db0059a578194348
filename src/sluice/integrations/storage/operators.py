"""Object storage operators, named after Airflow's S3 operators (``S3ListOperator`` is
``ObjectStorageListOperator``...), working on any storage connection: ``aws``/``s3`` or
``fs``, or ``conn_id=None`` for the local filesystem with absolute paths."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sluice.core.errors import DagDefinitionError
from sluice.integrations.arguments import check_bool
from sluice.integrations.storage.checks import (
    check_location,
    check_storage_conn_id,
    check_text,
    rendered_text,
)
from sluice.integrations.storage.hook import ObjectStorageHook
from sluice.integrations.storage.locations import split_location
from sluice.sdk.operator import BaseOperator, Context, task_where
from sluice.sdk.xcom_arg import XComArg

log = logging.getLogger("sluice.task")

DEFAULT_CONN_ID = ObjectStorageHook.default_conn_name
UI_COLOR = "#f7e3cf"


class LocalFilesystemToObjectStorageOperator(BaseOperator):
    """Uploads the local file ``filename`` as ``dest_key`` (Airflow's
    LocalFilesystemToS3Operator); returns the key.

    Args:
        filename: the local file to upload (templated).
        dest_key: the key to write, or a full ``s3://bucket/key`` URL when ``dest_bucket``
            is None (templated).
        dest_bucket: the bucket (templated).
        conn_id: the storage connection.
        replace: overwrite an existing object (False, as Airflow: an existing key fails).
    """

    template_fields: Sequence[str] = ("filename", "dest_key", "dest_bucket")
    ui_color = UI_COLOR

    def __init__(
        self,
        *,
        filename: str,
        dest_key: str,
        dest_bucket: str | None = None,
        conn_id: str | None = DEFAULT_CONN_ID,
        replace: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        self.filename = check_text(where, "filename", filename)
        self.dest_key = check_text(where, "dest_key", dest_key)
        self.dest_bucket = check_text(where, "dest_bucket", dest_bucket, optional=True)
        check_location(
            where, dest_bucket, dest_key, bucket_param="dest_bucket", key_param="dest_key"
        )
        self.conn_id = check_storage_conn_id(where, "conn_id", conn_id)
        self.replace = check_bool(where, "replace", replace)

    def execute(self, context: Context) -> str:
        """Upload the file."""
        where = task_where(self)
        filename = rendered_text(where, "filename", self.filename)
        key = rendered_text(where, "dest_key", self.dest_key)
        bucket, key = split_location(
            self.dest_bucket or None, key, bucket_param="dest_bucket", key_param="dest_key"
        )
        ObjectStorageHook(self.conn_id).upload_file(filename, bucket, key, replace=self.replace)
        return key


class ObjectStorageToLocalFilesystemOperator(BaseOperator):
    """Downloads the object ``key`` to the local file ``filename`` (its folders made, an
    existing file replaced); returns the file's path.

    Airflow has no S3 operator for this (its GCSToLocalFilesystemOperator is the model).

    Args:
        key: the key, or a full ``s3://bucket/key`` URL when ``bucket`` is None
            (templated).
        filename: the local path to write (templated).
        bucket: the bucket (templated).
        conn_id: the storage connection.
    """

    template_fields: Sequence[str] = ("key", "bucket", "filename")
    ui_color = UI_COLOR

    def __init__(
        self,
        *,
        key: str,
        filename: str,
        bucket: str | None = None,
        conn_id: str | None = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        self.key = check_text(where, "key", key)
        self.filename = check_text(where, "filename", filename)
        self.bucket = check_text(where, "bucket", bucket, optional=True)
        check_location(where, bucket, key, bucket_param="bucket", key_param="key")
        self.conn_id = check_storage_conn_id(where, "conn_id", conn_id)

    def execute(self, context: Context) -> str:
        """Download the object."""
        where = task_where(self)
        key = rendered_text(where, "key", self.key)
        filename = rendered_text(where, "filename", self.filename)
        return ObjectStorageHook(self.conn_id).download_file(self.bucket or None, key, filename)


class ObjectStorageCreateBucketOperator(BaseOperator):
    """Creates the bucket ``bucket_name`` unless it exists (Airflow's
    S3CreateBucketOperator); on an ``fs`` connection, a folder under the root.

    Args:
        bucket_name: the bucket (templated).
        conn_id: the storage connection.
        region_name: the S3 region to create it in (default: the connection's).
    """

    template_fields: Sequence[str] = ("bucket_name",)
    ui_color = UI_COLOR

    def __init__(
        self,
        *,
        bucket_name: str,
        conn_id: str | None = DEFAULT_CONN_ID,
        region_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        self.bucket_name = check_text(where, "bucket_name", bucket_name)
        self.conn_id = check_storage_conn_id(where, "conn_id", conn_id)
        self.region_name = check_text(where, "region_name", region_name, optional=True)

    def execute(self, context: Context) -> None:
        """Create the bucket if it is missing."""
        bucket = rendered_text(task_where(self), "bucket_name", self.bucket_name)
        hook = ObjectStorageHook(self.conn_id)
        if hook.check_for_bucket(bucket):
            log.info("bucket %s already exists", bucket)
            return
        hook.create_bucket(bucket, region_name=self.region_name)
        log.info("created bucket %s", bucket)


class ObjectStorageListOperator(BaseOperator):
    """Lists the keys of ``bucket`` that start with ``prefix`` (every page); the list goes
    to XCom (Airflow's S3ListOperator).

    Args:
        bucket: the bucket (templated).
        prefix: keys start with it (templated).
        delimiter: with ``/``, only the keys directly under the prefix, not in sub-"folders"
            (templated).
        conn_id: the storage connection.
    """

    template_fields: Sequence[str] = ("bucket", "prefix", "delimiter")
    ui_color = UI_COLOR

    def __init__(
        self,
        *,
        bucket: str | None,
        prefix: str = "",
        delimiter: str = "",
        conn_id: str | None = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        self.bucket = check_text(where, "bucket", bucket, optional=True)
        for name, value in (("prefix", prefix), ("delimiter", delimiter)):
            if not isinstance(value, str | XComArg):
                raise DagDefinitionError(f"{where}: {name} must be a string, got {value!r}")
        self.prefix = prefix
        self.delimiter = delimiter
        self.conn_id = check_storage_conn_id(where, "conn_id", conn_id)

    def execute(self, context: Context) -> list[str]:
        """List the keys."""
        keys = ObjectStorageHook(self.conn_id).list_keys(
            self.bucket or None, prefix=self.prefix or "", delimiter=self.delimiter or None
        )
        log.info("found %d key(s) under %r", len(keys), self.prefix)
        return keys


class ObjectStorageDeleteObjectsOperator(BaseOperator):
    """Deletes ``keys``, or every key that starts with ``prefix``, from ``bucket``; returns
    the keys it deleted (Airflow's S3DeleteObjectsOperator).

    Exactly one of ``keys`` and ``prefix`` is given. Unlike Airflow, a prefix that renders
    to ``""`` is an error rather than the deletion of the whole bucket.

    Args:
        bucket: the bucket (templated).
        keys: one key or a list of keys (templated; may be another task's output).
        prefix: delete every key that starts with it (templated).
        conn_id: the storage connection.
    """

    template_fields: Sequence[str] = ("keys", "bucket", "prefix")
    ui_color = UI_COLOR

    def __init__(
        self,
        *,
        bucket: str | None,
        keys: str | list[str] | None = None,
        prefix: str | None = None,
        conn_id: str | None = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        self.bucket = check_text(where, "bucket", bucket, optional=True)
        if (keys is None) == (prefix is None):
            raise DagDefinitionError(
                f"{where}: give exactly one of keys and prefix"
                + (" (both were given)" if keys is not None else "")
            )
        if keys is not None and not isinstance(keys, str | XComArg):
            if not isinstance(keys, list | tuple) or not all(
                isinstance(k, str | XComArg) for k in keys
            ):
                raise DagDefinitionError(
                    f"{where}: keys must be a key or a list of keys, got {keys!r}"
                )
            keys = list(keys)
        self.keys = keys
        if prefix is not None:
            check_text(where, "prefix", prefix)
        self.prefix = prefix
        self.conn_id = check_storage_conn_id(where, "conn_id", conn_id)

    def execute(self, context: Context) -> list[str]:
        """Delete the keys (listing the prefix first)."""
        hook = ObjectStorageHook(self.conn_id)
        bucket = self.bucket or None
        if self.prefix is not None:
            if not isinstance(self.prefix, str) or not self.prefix:
                raise ValueError(
                    f"{task_where(self)}: prefix rendered to {self.prefix!r}, which would delete"
                    " every object of the bucket: give a non-empty prefix, or list the keys"
                )
            keys = hook.list_keys(bucket, prefix=self.prefix)
        else:
            keys = [self.keys] if isinstance(self.keys, str) else list(self.keys or [])
        if keys:
            hook.delete_objects(bucket, keys)
        log.info("deleted %d key(s)", len(keys))
        return keys


class ObjectStorageCopyObjectOperator(BaseOperator):
    """Copies one object to another key of the same connection, replacing it (Airflow's
    S3CopyObjectOperator).

    Args:
        source_bucket_key: the key to copy, or a full ``s3://bucket/key`` URL when
            ``source_bucket_name`` is None (templated).
        dest_bucket_key: the key to write, or a full URL (templated).
        source_bucket_name: the source bucket (templated).
        dest_bucket_name: the destination bucket (templated).
        conn_id: the storage connection.
    """

    template_fields: Sequence[str] = (
        "source_bucket_key",
        "dest_bucket_key",
        "source_bucket_name",
        "dest_bucket_name",
    )
    ui_color = UI_COLOR

    def __init__(
        self,
        *,
        source_bucket_key: str,
        dest_bucket_key: str,
        source_bucket_name: str | None = None,
        dest_bucket_name: str | None = None,
        conn_id: str | None = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        self.source_bucket_key = check_text(where, "source_bucket_key", source_bucket_key)
        self.dest_bucket_key = check_text(where, "dest_bucket_key", dest_bucket_key)
        self.source_bucket_name = check_text(
            where, "source_bucket_name", source_bucket_name, optional=True
        )
        self.dest_bucket_name = check_text(
            where, "dest_bucket_name", dest_bucket_name, optional=True
        )
        for side in ("source", "dest"):
            check_location(
                where,
                getattr(self, f"{side}_bucket_name"),
                getattr(self, f"{side}_bucket_key"),
                bucket_param=f"{side}_bucket_name",
                key_param=f"{side}_bucket_key",
            )
        self.conn_id = check_storage_conn_id(where, "conn_id", conn_id)

    def execute(self, context: Context) -> None:
        """Copy the object."""
        where = task_where(self)
        src_bucket, src_key = split_location(
            self.source_bucket_name or None,
            rendered_text(where, "source_bucket_key", self.source_bucket_key),
            bucket_param="source_bucket_name",
            key_param="source_bucket_key",
        )
        dest_bucket, dest_key = split_location(
            self.dest_bucket_name or None,
            rendered_text(where, "dest_bucket_key", self.dest_bucket_key),
            bucket_param="dest_bucket_name",
            key_param="dest_bucket_key",
        )
        ObjectStorageHook(self.conn_id).copy_object(src_bucket, src_key, dest_bucket, dest_key)
