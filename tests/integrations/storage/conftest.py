"""Object storage for the tests: moto's S3 server over real HTTP on a free port (one per
session), and local folders under tmp_path.

``storage`` is parametrized over both backends: the connection ``lake`` (defined in
``SLUICE_CONN_LAKE``) and a new, empty bucket in it.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.runner.conftest import stored  # noqa: F401 - the fixture, for test_runner.py

from sluice.integrations.lookup import connection_env_name
from sluice.integrations.storage import ObjectStorageHook

ACCESS_KEY = "sluice-test-key"
"""moto accepts any access key; a fake one shows no real credentials are read."""
SECRET_KEY = "sluice-test-secret"
REGION = "us-east-1"
BACKENDS = ("s3", "local")


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server running in this process for the session."""
    from moto.server import ThreadedMotoServer

    # werkzeug logs every request at INFO: keep test output to what matters.
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        werkzeug.setLevel(level)


def s3_connection(endpoint: str, **extra: Any) -> str:
    """The JSON form of an ``aws`` connection to the moto server."""
    return json.dumps(
        {
            "conn_type": "aws",
            "login": ACCESS_KEY,
            "password": SECRET_KEY,
            "extra": {"endpoint_url": endpoint, "region_name": REGION, **extra},
        }
    )


def fs_connection(root: Path) -> str:
    """The JSON form of an ``fs`` connection rooted at ``root``."""
    return json.dumps({"conn_type": "fs", "extra": {"path": str(root)}})


@dataclass(frozen=True)
class Storage:
    """A storage connection and a new, empty bucket in it."""

    conn_id: str
    backend: str
    """``s3`` or ``local``."""
    bucket: str
    text: str
    """The connection as ``SLUICE_CONN_<ID>`` holds it."""
    root: Path | None = None
    """The local backend's root folder."""

    def hook(self) -> ObjectStorageHook:
        """A new hook on the connection."""
        return ObjectStorageHook(self.conn_id)

    def new_bucket(self) -> str:
        """Another new, empty bucket."""
        name = new_bucket_name()
        self.hook().create_bucket(name)
        return name


def new_bucket_name() -> str:
    """A bucket name no test has used (S3's rules: lower case, 3 to 63 characters)."""
    return f"bkt-{secrets.token_hex(5)}"


@pytest.fixture(params=BACKENDS)
def storage(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Storage:
    """The connection ``lake`` of each backend, with a new bucket."""
    backend: str = request.param
    if backend == "s3":
        text = s3_connection(request.getfixturevalue("moto_endpoint"))
        root = None
    else:
        root = tmp_path / "lake"
        root.mkdir()
        text = fs_connection(root)
    monkeypatch.setenv(connection_env_name("lake"), text)
    bucket = new_bucket_name()
    ObjectStorageHook("lake").create_bucket(bucket)
    return Storage("lake", backend, bucket, text, root)
