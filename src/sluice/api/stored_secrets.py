"""The secrets the database holds, masked in what pages and the API show of task output.

A task process masks what it reads as it writes its log and its rendered fields. What it
does not see cannot be masked there: a value a task pushes to XCom (a command's last line
echoing a token), or a secret a child process wrote straight to the log's file descriptor.
The web server knows every connection password and secret-named variable, so it masks
those again where it shows task output: XCom values and logs.
"""

from __future__ import annotations

import threading
import time

from sluice.integrations.masking import SecretsMasker, register_into
from sluice.store import connections, variables
from sluice.store.engine import READ_ONLY, Store

REFRESH_SECONDS = 30.0
"""How long a read of the stored secrets is used before it is read again."""


class StoredSecrets:
    """A masker of the stored secrets, read again at most every :data:`REFRESH_SECONDS`."""

    def __init__(self, store: Store, *, enabled: bool, extra_words: str) -> None:
        self.store = store
        self.enabled = enabled
        self.extra_words = extra_words.split(",")
        self._masker: SecretsMasker | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def mask_text(self, text: str) -> str:
        """``text`` with every stored secret masked."""
        return self._current().mask_text(text)

    def redact(self, value: object) -> object:
        """JSON-like ``value`` with stored secrets and secret-named fields masked."""
        return self._current().redact(value)

    def _current(self) -> SecretsMasker:
        with self._lock:
            if self._masker is None or time.monotonic() - self._read_at > REFRESH_SECONDS:
                self._masker = self._read()
                self._read_at = time.monotonic()
            return self._masker

    def _read(self) -> SecretsMasker:
        masker = SecretsMasker()
        masker.configure(enabled=self.enabled, extra_words=self.extra_words)
        if not self.enabled:
            return masker
        with self.store.transaction() as session:
            session.connection(execution_options={READ_ONLY: True})
            for secrets in connections.iter_connection_secrets(session):
                register_into(masker, connection=(secrets.password, secrets.extra))
            for entry in variables.iter_variables(session):
                register_into(masker, variable=(entry.key, entry.value))
        return masker
