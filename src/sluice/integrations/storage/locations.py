"""Where an object is: a bucket and a key, or one ``s3://bucket/key`` URL, as Airflow's
S3 hook and operators take them."""

from __future__ import annotations

import re

from sluice.integrations.storage.errors import InvalidLocation

URL_SCHEMES = ("s3", "s3a", "s3n")
"""The URL schemes read as ``scheme://bucket/key`` (Airflow's ``parse_s3_url`` reads these)."""

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_WILDCARD = re.compile(r"[\[*?]")


def is_url(value: str) -> bool:
    """Whether ``value`` starts with a URL scheme (``s3://``, or any other ``x://``)."""
    return _SCHEME.match(value) is not None


def parse_url(url: str) -> tuple[str, str]:
    """The bucket and key of ``s3://bucket/key``; InvalidLocation for another form."""
    match = _SCHEME.match(url)
    if match is None:
        raise InvalidLocation(f"{url!r} is not a URL: write it as s3://bucket/key")
    scheme = match.group(1).lower()
    if scheme not in URL_SCHEMES:
        raise InvalidLocation(
            f"{url!r} has the scheme '{scheme}://', which object storage does not read: write"
            " it as s3://bucket/key (the connection decides where the bucket is)"
        )
    rest = url[match.end() :]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise InvalidLocation(f"{url!r} names no bucket: write it as s3://bucket/key")
    return bucket, key


def split_location(
    bucket: str | None,
    key: str,
    *,
    bucket_param: str = "bucket",
    key_param: str = "key",
) -> tuple[str | None, str]:
    """The bucket and key that a bucket argument and a key argument name together.

    As Airflow: with no bucket the key may be a full ``s3://bucket/key`` URL; with a bucket
    it must be a key relative to the bucket. ``bucket_param`` and ``key_param`` are the
    argument names an error message shows.
    """
    if not isinstance(key, str):
        raise InvalidLocation(f"{key_param} must be text, not {type(key).__name__}")
    if bucket is not None and not isinstance(bucket, str):
        raise InvalidLocation(f"{bucket_param} must be text, not {type(bucket).__name__}")
    if is_url(key):
        if bucket:
            raise InvalidLocation(
                f"{key_param} {key!r} is a URL while {bucket_param} {bucket!r} is given too:"
                f" give {key_param} relative to the bucket, or leave {bucket_param} out"
            )
        return parse_url(key)
    return bucket, key


def wildcard_prefix(pattern: str) -> str:
    """The part of an fnmatch pattern before its first wildcard: every match starts with it."""
    return _WILDCARD.split(pattern, maxsplit=1)[0]
