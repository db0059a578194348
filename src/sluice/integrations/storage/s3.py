"""Amazon S3 and S3-compatible servers (MinIO, moto, Ceph...) through boto3.

boto3 is an optional dependency (``pip install 'sluice[s3]'``), imported when the first
request is made: a DAG file that builds storage operators never imports it.
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, cast

from sluice.integrations.connection import Connection
from sluice.integrations.storage.backend import ObjectInfo, StorageBackend
from sluice.integrations.storage.errors import (
    BucketNotFound,
    InvalidLocation,
    ObjectExists,
    ObjectNotFound,
    ObjectStorageError,
)
from sluice.integrations.storage.local import atomic_file

log = logging.getLogger("sluice.task")

DELETE_BATCH = 1000
"""S3's DeleteObjects takes at most this many keys per request."""
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_STREAM_BUFFER = 1024 * 1024


class S3Backend(StorageBackend):
    """Objects in S3 buckets, reached with the connection's keys (or boto3's default
    credential chain when it has no login)."""

    def __init__(self, conn: Connection, label: str) -> None:
        self.label = label
        extra = conn.extra_dejson
        self.region_name = _text(label, extra, "region_name")
        self.endpoint_url = _text(label, extra, "endpoint_url")
        self.session_token = _text(label, extra, "aws_session_token")
        if self.endpoint_url and not self.endpoint_url.startswith(("http://", "https://")):
            raise ObjectStorageError(
                f"{label}: endpoint_url {self.endpoint_url!r} must start with http:// or"
                " https://, such as http://127.0.0.1:9000 for MinIO"
            )
        config = extra.get("config_kwargs", {})
        if not isinstance(config, dict):
            raise ObjectStorageError(
                f"{label}: extra config_kwargs must be a JSON object of botocore Config"
                f" options, not {config!r}"
            )
        self.config_kwargs: dict[str, Any] = dict(config)
        if self.endpoint_url and "addressing_style" not in self.config_kwargs.get("s3", {}):
            # S3-compatible servers (MinIO, moto) serve buckets as paths, not host names.
            s3_options = {**self.config_kwargs.get("s3", {}), "addressing_style": "path"}
            self.config_kwargs["s3"] = s3_options
        if bool(conn.login) != bool(conn.password):
            have, missing = ("login", "password") if conn.login else ("password", "login")
            raise ObjectStorageError(
                f"{label} has a {have} but no {missing}: give both the access key id (login)"
                " and the secret access key (password), or neither to use boto3's default"
                " credentials"
            )
        self._access_key = conn.login
        self._secret_key = conn.password
        self._client: Any = None
        self._client_error: type[Exception] = Exception

    # -- the client ------------------------------------------------------------------

    def get_client(self) -> Any:
        """The boto3 S3 client, made on first use."""
        if self._client is None:
            self._client = self.make_client(self.region_name)
        return self._client

    def make_client(self, region_name: str | None) -> Any:
        """A new boto3 S3 client of the connection, for ``region_name``."""
        try:
            import boto3
            from botocore.config import Config
            from botocore.exceptions import ClientError
        except ImportError:
            raise ObjectStorageError(
                f"{self.label} needs boto3, which is not installed: pip install 'sluice[s3]'"
            ) from None
        session = boto3.session.Session(
            aws_access_key_id=self._access_key,
            aws_secret_access_key=self._secret_key,
            aws_session_token=self.session_token,
            region_name=region_name,
        )
        try:
            client = session.client(
                "s3", endpoint_url=self.endpoint_url, config=Config(**self.config_kwargs)
            )
        except Exception as exc:
            raise ObjectStorageError(
                f"{self.label}: cannot make an S3 client: {type(exc).__name__}: {exc}"
            ) from None
        self._client_error = ClientError
        return client

    @contextmanager
    def _requests(
        self, action: str, bucket: str | None = None, key: str | None = None
    ) -> Iterator[Any]:
        """The client, with boto3's errors turned into storage errors that name the bucket
        and key."""
        bucket = self._bucket(bucket)
        client = self.get_client()
        try:
            yield client
        except ObjectStorageError:
            raise
        except self._client_error as exc:
            self._fail(exc, action, bucket, key)
        except Exception as exc:
            if type(exc).__module__.split(".")[0] not in ("botocore", "boto3", "s3transfer"):
                raise
            # boto3's managed transfers wrap S3's answer in a message (S3UploadFailedError).
            if "NoSuchBucket" in str(exc):
                raise BucketNotFound(self._no_bucket(bucket)) from None
            raise ObjectStorageError(
                f"{self.label}: {action} failed: {type(exc).__name__}: {exc}"
            ) from None

    def _fail(self, exc: Any, action: str, bucket: str, key: str | None) -> NoReturn:
        error = exc.response.get("Error", {})
        code = _code(exc)
        if code == "NoSuchBucket":
            raise BucketNotFound(self._no_bucket(error.get("BucketName") or bucket)) from None
        if code in _NOT_FOUND and key is not None:
            if not self._bucket_exists(bucket):
                raise BucketNotFound(self._no_bucket(bucket)) from None
            raise ObjectNotFound(
                f"{self.label}: key {key!r} does not exist in bucket {bucket!r}"
            ) from None
        message = error.get("Message") or str(exc)
        raise ObjectStorageError(f"{self.label}: {action} failed: {code}: {message}") from None

    def _no_bucket(self, bucket: str) -> str:
        return (
            f"{self.label}: bucket {bucket!r} does not exist; create it first"
            " (ObjectStorageCreateBucketOperator)"
        )

    def _bucket(self, bucket: str | None) -> str:
        if not bucket:
            raise InvalidLocation(
                f"{self.label}: no bucket given: name the bucket, or give the key as a full"
                " s3://bucket/key URL"
            )
        return bucket

    def _bucket_exists(self, bucket: str) -> bool:
        try:
            self.get_client().head_bucket(Bucket=bucket)
        except self._client_error as exc:
            # 403 and the like: the bucket is there, this connection may not look in it.
            return _code(exc) not in _NOT_FOUND | {"NoSuchBucket"}
        return True

    def _refuse_existing(self, bucket: str, key: str, replace: bool) -> None:
        # As Airflow's S3Hook: look first (S3's conditional write is not on every server).
        if not replace and self.head(bucket, key) is not None:
            raise ObjectExists(
                f"{self.label}: key {key!r} already exists in bucket {bucket!r}; pass"
                " replace=True to overwrite it"
            )

    # -- the primitives --------------------------------------------------------------

    def upload_file(self, local_path: str, bucket: str | None, key: str, replace: bool) -> None:
        """Upload the file (in parts when large)."""
        with open(local_path, "rb") as source:
            self._upload(source, self._bucket(bucket), key, replace)

    def _upload(self, source: BinaryIO, bucket: str, key: str, replace: bool) -> None:
        self._refuse_existing(bucket, key, replace)
        with self._requests(f"uploading {key!r}", bucket) as client:
            client.upload_fileobj(source, bucket, key)

    def load_bytes(self, data: bytes, bucket: str | None, key: str, replace: bool) -> None:
        """Put ``data`` as the object."""
        bucket = self._bucket(bucket)
        self._refuse_existing(bucket, key, replace)
        with self._requests(f"writing {key!r}", bucket) as client:
            client.put_object(Bucket=bucket, Key=key, Body=data)

    def download_file(self, bucket: str | None, key: str, local_path: str) -> None:
        """Download the object (in parts when large) to ``local_path``."""
        with (
            self._requests(f"downloading {key!r}", bucket, key) as client,
            atomic_file(Path(local_path)) as out,
        ):
            client.download_fileobj(bucket, key, out)

    def read_bytes(self, bucket: str | None, key: str) -> bytes:
        """The object's bytes."""
        with self._requests(f"reading {key!r}", bucket, key) as client:
            body = client.get_object(Bucket=bucket, Key=key)["Body"]
            try:
                return cast(bytes, body.read())
            finally:
                body.close()

    def open_read(self, bucket: str | None, key: str) -> AbstractContextManager[BinaryIO]:
        """The object's body, read from the network as it is consumed."""
        with self._requests(f"reading {key!r}", bucket, key) as client:
            body = client.get_object(Bucket=bucket, Key=key)["Body"]
        return _closing(io.BufferedReader(_BodyReader(body), _STREAM_BUFFER))

    def open_write(
        self, bucket: str | None, key: str, replace: bool
    ) -> AbstractContextManager[BinaryIO]:
        """A temporary file, uploaded as the object when the block ends without error."""
        bucket = self._bucket(bucket)
        self._refuse_existing(bucket, key, replace)
        return self._spooled_upload(bucket, key, replace)

    @contextmanager
    def _spooled_upload(self, bucket: str, key: str, replace: bool) -> Iterator[BinaryIO]:
        # S3 takes an object whole (or in parts of at least 5 MiB): keep it on disk, not
        # in memory, until it is complete.
        with tempfile.TemporaryFile("w+b") as spool:
            yield cast(BinaryIO, spool)
            spool.flush()
            spool.seek(0)
            self._upload(cast(BinaryIO, spool), bucket, key, replace)

    def list_objects(
        self, bucket: str | None, prefix: str, delimiter: str | None, page_size: int | None
    ) -> list[ObjectInfo]:
        """Every page of ListObjectsV2."""
        found: list[ObjectInfo] = []
        with self._requests(f"listing {prefix!r}", bucket) as client:
            params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
            if delimiter:
                params["Delimiter"] = delimiter
            if page_size:
                params["PaginationConfig"] = {"PageSize": page_size}
            for page in client.get_paginator("list_objects_v2").paginate(**params):
                for item in page.get("Contents", []):
                    found.append(ObjectInfo(item["Key"], item["Size"], item["LastModified"]))
        return found

    def head(self, bucket: str | None, key: str) -> ObjectInfo | None:
        """HeadObject; None on 404 (a missing key or bucket)."""
        with self._requests(f"looking up {key!r}", bucket) as client:
            try:
                found = client.head_object(Bucket=bucket, Key=key)
            except self._client_error as exc:
                if _code(exc) in _NOT_FOUND:
                    return None
                raise
        return ObjectInfo(key, found["ContentLength"], found["LastModified"])

    def delete_objects(self, bucket: str | None, keys: Iterable[str]) -> None:
        """DeleteObjects, up to 1,000 keys a request."""
        remaining = list(keys)
        with self._requests("deleting objects", bucket) as client:
            for start in range(0, len(remaining), DELETE_BATCH):
                batch = remaining[start : start + DELETE_BATCH]
                answer = client.delete_objects(
                    Bucket=bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
                errors = answer.get("Errors", [])
                if errors:
                    shown = "; ".join(
                        f"{e.get('Key')!r}: {e.get('Code')} {e.get('Message', '')}".strip()
                        for e in errors[:5]
                    )
                    raise ObjectStorageError(
                        f"{self.label}: {len(errors)} key(s) of bucket {bucket!r} could not be"
                        f" deleted: {shown}"
                    )

    def copy_object(
        self, src_bucket: str | None, src_key: str, dest_bucket: str | None, dest_key: str
    ) -> None:
        """A managed copy (in parts when larger than one CopyObject can take)."""
        dest = self._bucket(dest_bucket)
        with self._requests(f"copying {src_key!r}", src_bucket, src_key) as client:
            source = {"Bucket": src_bucket, "Key": src_key}
            client.head_object(**source)  # a missing source is named as such
        with self._requests(f"copying {src_key!r} to {dest_key!r}", dest) as client:
            client.copy(source, dest, dest_key)

    def create_bucket(self, bucket: str | None, region_name: str | None) -> None:
        """CreateBucket in ``region_name`` (or the connection's region)."""
        with self._requests("creating the bucket", bucket) as client:
            region = region_name or self.region_name or client.meta.region_name
            if region != client.meta.region_name:
                # S3 takes a bucket's creation only from its own region's endpoint.
                client = self.make_client(region)
            params: dict[str, Any] = {"Bucket": bucket}
            if region and region != "us-east-1":
                # us-east-1 is S3's default and refuses being named as a constraint.
                params["CreateBucketConfiguration"] = {"LocationConstraint": region}
            try:
                client.create_bucket(**params)
            except self._client_error as exc:
                if _code(exc) != "BucketAlreadyOwnedByYou":
                    raise

    def check_for_bucket(self, bucket: str | None) -> bool:
        """HeadBucket: False on 404, an error when access is refused."""
        with self._requests("looking up the bucket", bucket) as client:
            try:
                client.head_bucket(Bucket=bucket)
            except self._client_error as exc:
                if _code(exc) in _NOT_FOUND | {"NoSuchBucket"}:
                    return False
                raise
        return True

    def test_connection(self) -> tuple[bool, str]:
        """ListBuckets answers (the keys are valid and the endpoint is S3)."""
        try:
            self.get_client().list_buckets()
        except Exception as exc:
            return False, f"{self.label}: {type(exc).__name__}: {exc}"
        return True, "Connection successfully tested"


class _BodyReader(io.RawIOBase):
    """A botocore streaming body as a raw stream, so that io can buffer it and decode it."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


@contextmanager
def _closing(stream: io.BufferedReader) -> Iterator[BinaryIO]:
    try:
        yield cast(BinaryIO, stream)
    finally:
        stream.close()


def _text(label: str, extra: dict[str, Any], name: str) -> str | None:
    value = extra.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ObjectStorageError(f"{label}: extra {name} must be text, not {value!r}")
    return value


def _code(exc: Any) -> str:
    """The error code of a botocore ClientError (``404``, ``NoSuchKey``...)."""
    return str(exc.response.get("Error", {}).get("Code", ""))
