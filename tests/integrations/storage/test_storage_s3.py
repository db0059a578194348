"""The S3 backend's connection fields, against moto's S3 server over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import quote

import pytest
from tests.integrations.storage.conftest import (
    ACCESS_KEY,
    SECRET_KEY,
    free_port,
    new_bucket_name,
    s3_connection,
)

from sluice.integrations.lookup import connection_env_name
from sluice.integrations.storage import InvalidLocation, ObjectStorageError, ObjectStorageHook


def _define(monkeypatch: pytest.MonkeyPatch, text: str, conn_id: str = "s3lake") -> None:
    monkeypatch.setenv(connection_env_name(conn_id), text)


def test_a_uri_connection_of_type_s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = (
        f"s3://{ACCESS_KEY}:{SECRET_KEY}@/?endpoint_url={quote(moto_endpoint, safe='')}"
        "&region_name=us-east-1"
    )
    _define(monkeypatch, uri)
    hook = ObjectStorageHook("s3lake")
    bucket = new_bucket_name()
    hook.create_bucket(bucket)
    hook.load_string("via uri", bucket, "k")
    assert hook.read_string(bucket, "k") == "via uri"
    assert not hook.is_local


def test_without_login_boto3_default_credentials_are_used(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-the-environment")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-from-the-environment")
    extra = {"endpoint_url": moto_endpoint, "region_name": "us-east-1"}
    _define(monkeypatch, json.dumps({"conn_type": "aws", "extra": extra}))
    hook = ObjectStorageHook("s3lake")
    bucket = new_bucket_name()
    hook.create_bucket(bucket)
    assert hook.check_for_bucket(bucket)
    client = hook.backend.get_client()  # type: ignore[attr-defined]
    assert client._request_signer._credentials.access_key == "from-the-environment"


def test_login_without_password_is_refused(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = json.dumps(
        {"conn_type": "aws", "login": "AKIA", "extra": {"endpoint_url": moto_endpoint}}
    )
    _define(monkeypatch, text)
    with pytest.raises(ObjectStorageError, match=r"'s3lake' \(aws\) has a login but no password"):
        ObjectStorageHook("s3lake").list_keys("b")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"endpoint_url": "127.0.0.1:9000"}, "endpoint_url '127.0.0.1:9000' must start with http"),
        ({"region_name": 5}, "extra region_name must be text, not 5"),
        ({"config_kwargs": "path"}, "extra config_kwargs must be a JSON object"),
    ],
)
def test_bad_extra_fields(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, object], message: str
) -> None:
    text = json.dumps({"conn_type": "aws", "login": "a", "password": "b", "extra": extra})
    _define(monkeypatch, text)
    with pytest.raises(ObjectStorageError, match=message):
        ObjectStorageHook("s3lake").list_keys("b")


def test_buckets_are_created_in_the_connection_region(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _define(monkeypatch, s3_connection(moto_endpoint, region_name="eu-west-1"))
    hook = ObjectStorageHook("s3lake")
    here, there = new_bucket_name(), new_bucket_name()
    hook.create_bucket(here)
    hook.create_bucket(there, region_name="ap-southeast-2")
    client = hook.backend.get_client()  # type: ignore[attr-defined]
    assert client.get_bucket_location(Bucket=here)["LocationConstraint"] == "eu-west-1"
    assert client.get_bucket_location(Bucket=there)["LocationConstraint"] == "ap-southeast-2"


def test_an_endpoint_means_path_style_unless_told(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _define(monkeypatch, s3_connection(moto_endpoint))
    client = ObjectStorageHook("s3lake").backend.get_client()  # type: ignore[attr-defined]
    assert client.meta.config.s3["addressing_style"] == "path"
    virtual = {"s3": {"addressing_style": "virtual"}}
    _define(monkeypatch, s3_connection(moto_endpoint, config_kwargs=virtual))
    client = ObjectStorageHook("s3lake").backend.get_client()  # type: ignore[attr-defined]
    assert client.meta.config.s3["addressing_style"] == "virtual"


def test_s3_needs_a_bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _define(monkeypatch, s3_connection(moto_endpoint))
    hook = ObjectStorageHook("s3lake")
    with pytest.raises(InvalidLocation, match="no bucket given: name the bucket, or give the key"):
        hook.read_bytes(None, "plain/key.txt")
    with pytest.raises(InvalidLocation, match="no bucket given"):
        hook.list_keys(None)


def test_an_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    no_retries = {"retries": {"max_attempts": 1}, "connect_timeout": 2}
    _define(monkeypatch, s3_connection(endpoint, config_kwargs=no_retries))
    hook = ObjectStorageHook("s3lake")
    ok, message = hook.test_connection()
    assert not ok
    assert "EndpointConnectionError" in message
    assert endpoint in message
    with pytest.raises(ObjectStorageError, match=r"listing '' failed: EndpointConnectionError"):
        hook.list_keys("some-bucket")


def test_boto3_missing_names_the_extra_to_install(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _define(monkeypatch, s3_connection(moto_endpoint))
    monkeypatch.setitem(sys.modules, "boto3", None)  # what an uninstalled package looks like
    with pytest.raises(ObjectStorageError, match=r"needs boto3.*pip install 'sluice\[s3\]'"):
        ObjectStorageHook("s3lake").list_keys("b")


def test_importing_the_package_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "import sluice.integrations.storage\n"
        "from sluice.integrations.storage import ObjectStorageHook, SqlToObjectStorageOperator\n"
        "ObjectStorageHook('lake')\n"
        "heavy = ('boto3', 'botocore', 'pyarrow', 'sqlalchemy', 'requests', 'moto')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
