"""Where the Fernet key that encrypts secrets at rest comes from.

``[core] fernet_key`` when it is set (several comma-separated keys during a rotation);
otherwise a key generated on first use and kept in ``SLUICE_HOME/fernet_key``, readable by
its owner only.
"""

from __future__ import annotations

import binascii
import os
import time
from pathlib import Path

from cryptography.fernet import Fernet

from sluice.config import Settings
from sluice.core.errors import ConfigError

KEY_FILE_NAME = "fernet_key"
_WAIT_FOR_WRITER = 5.0  # seconds another process may take between creating and writing it


def key_file(settings: Settings) -> Path:
    """The file that keeps the generated key when ``[core] fernet_key`` is empty."""
    return settings.home / KEY_FILE_NAME


def fernet_keys(settings: Settings) -> str:
    """The comma-separated Fernet keys: ``[core] fernet_key``, else the generated key file."""
    configured = settings.get_str("core", "fernet_key").strip()
    if configured:
        return configured
    return _key_from_file(key_file(settings))


def _key_from_file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        # O_EXCL: of two processes starting at once, exactly one writes the key.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key + b"\n")
        file.flush()
        os.fsync(file.fileno())
    return key.decode("ascii")


def _read_key(path: Path) -> str:
    deadline = time.monotonic() + _WAIT_FOR_WRITER
    while True:
        key = path.read_text(encoding="ascii", errors="replace").strip()
        if key or time.monotonic() > deadline:
            break
        time.sleep(0.05)  # the process that created it has not written it yet
    try:
        Fernet(key.encode("ascii"))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise ConfigError(
            f"{path} does not hold a Fernet key; restore it, or set [core] fernet_key"
        ) from None
    return key
