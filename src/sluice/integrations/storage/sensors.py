"""``ObjectStorageKeySensor``: wait until keys exist, as Airflow's S3KeySensor."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sluice.core.errors import DagDefinitionError
from sluice.integrations.arguments import check_bool, check_callable
from sluice.integrations.storage.checks import (
    check_location,
    check_storage_conn_id,
    check_text,
    rendered_text,
)
from sluice.integrations.storage.hook import ObjectStorageHook
from sluice.integrations.storage.locations import split_location
from sluice.sdk.operator import Context, task_where
from sluice.sdk.sensors.base import BaseSensorOperator
from sluice.sdk.xcom_arg import XComArg

log = logging.getLogger("sluice.task")


class ObjectStorageKeySensor(BaseSensorOperator):
    """Waits until every key of ``bucket_key`` exists (with ``wildcard_match``, until each
    pattern matches at least one key), and ``check_fn`` accepts what was found.

    Args:
        bucket_key: a key or a list of keys (fnmatch patterns with ``wildcard_match``);
            each may be a full ``s3://bucket/key`` URL when ``bucket_name`` is None
            (templated).
        bucket_name: the bucket (templated).
        wildcard_match: read the keys as fnmatch patterns (``*`` crosses ``/``).
        check_fn: called for each key (or pattern) with the list of the objects found for
            it, as dicts with ``Key``, ``Size`` and ``LastModified``; with the task context
            as keyword arguments too when it takes ``**kwargs``. Its truth decides.
        conn_id: the storage connection (Airflow's ``aws_conn_id``); None for the local
            filesystem with absolute paths.
    """

    template_fields: Sequence[str] = ("bucket_key", "bucket_name")
    ui_color = "#e6f1f2"

    def __init__(
        self,
        *,
        bucket_key: str | list[str],
        bucket_name: str | None = None,
        wildcard_match: bool = False,
        check_fn: Callable[..., bool] | None = None,
        conn_id: str | None = ObjectStorageHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        where = task_where(self)
        keys = [bucket_key] if isinstance(bucket_key, str | XComArg) else bucket_key
        if not isinstance(keys, list | tuple) or not keys:
            raise DagDefinitionError(
                f"{where}: bucket_key must be a key or a non-empty list of keys, got {bucket_key!r}"
            )
        for key in keys:
            check_text(where, "bucket_key", key)
        self.bucket_name = check_text(where, "bucket_name", bucket_name, optional=True)
        for key in keys:
            check_location(
                where, bucket_name, key, bucket_param="bucket_name", key_param="bucket_key"
            )
        self.bucket_key = bucket_key if isinstance(bucket_key, str | XComArg) else list(keys)
        self.wildcard_match = check_bool(where, "wildcard_match", wildcard_match)
        self.check_fn = check_callable(where, "check_fn", check_fn)
        self.conn_id = check_storage_conn_id(where, "conn_id", conn_id)

    def poke(self, context: Context) -> bool:
        """Whether every key exists (and passes ``check_fn``)."""
        hook = ObjectStorageHook(self.conn_id)
        keys = [self.bucket_key] if isinstance(self.bucket_key, str) else list(self.bucket_key)
        return all(self._check_key(hook, key, context) for key in keys)

    def _check_key(self, hook: ObjectStorageHook, key: Any, context: Context) -> bool:
        where = task_where(self)
        bucket, key = split_location(
            self.bucket_name or None,
            rendered_text(where, "bucket_key", key),
            bucket_param="bucket_name",
            key_param="bucket_key",
        )
        if self.wildcard_match:
            found = hook.match_objects(bucket, key)
        else:
            info = hook.get_object_info(bucket, key)
            found = [] if info is None else [info]
        log.info("poking for %s: %d object(s) found", key, len(found))
        if not found:
            return False
        if self.check_fn is None:
            return True
        files = [info.as_dict() for info in found]
        if _takes_kwargs(self.check_fn):
            return bool(self.check_fn(files, **context))
        return bool(self.check_fn(files))


def _takes_kwargs(function: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
