"""The secrets the database holds, masked in what pages and the API show of task output.

A task process masks what it reads as it writes its log and its rendered fields. What it
does not see cannot be masked there: a value a task pushes to XCom (a command's last line
echoing a token), a secret a child process wrote straight to the log's file descriptor, or
a password a hook read after the templates were rendered and stored. The web server knows
every connection password and secret-named variable, so it masks those again where it
shows task output: logs, XCom values, rendered fields, try errors and check values.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sluice.integrations.masking import SecretsMasker, register_into
from sluice.store import connections, variables
from sluice.store.engine import READ_ONLY, Store

log = logging.getLogger("sluice.web")

REFRESH_SECONDS = 30.0
"""How long a read of the stored secrets is used before it is read again."""


class StoredSecrets:
    """A masker of the stored secrets, read again at most every :data:`REFRESH_SECONDS`.

    The read happens outside the lock: while one request reads them again, the others
    mask with the previous read.
    """

    def __init__(self, store: Store, *, enabled: bool, extra_words: str) -> None:
        self.store = store
        self.enabled = enabled
        self.extra_words = extra_words.split(",")
        self._masker: SecretsMasker | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()
        self._reading = False

    def mask_text(self, text: str) -> str:
        """``text`` with every stored secret masked."""
        return self.masker().mask_text(text)

    def redact(self, value: Any, name: str | None = None) -> Any:
        """JSON-like ``value`` with stored secrets and secret-named fields masked (all of
        it when ``name``, an XCom key say, looks secret)."""
        return self.masker().redact(value, name)

    def masker(self) -> SecretsMasker:
        """The masker of the stored secrets as last read."""
        with self._lock:
            masker = self._masker
            stale = masker is None or time.monotonic() - self._read_at > REFRESH_SECONDS
            if masker is not None and (not stale or self._reading):
                return masker
            self._reading = True
        try:
            fresh = self._read()
        finally:
            with self._lock:
                self._reading = False
        with self._lock:
            self._masker, self._read_at = fresh, time.monotonic()
        return fresh

    def _read(self) -> SecretsMasker:
        masker = SecretsMasker()
        masker.configure(enabled=self.enabled, extra_words=self.extra_words)
        if not self.enabled:
            return masker
        unreadable: list[str] = []
        with self.store.transaction() as session, masker.batch():
            session.connection(execution_options={READ_ONLY: True})
            for secrets in connections.iter_connection_secrets(session, unreadable):
                register_into(masker, connection=(secrets.password, secrets.extra))
            for entry in variables.iter_variables(session, unreadable):
                register_into(masker, variable=(entry.key, entry.value))
        if unreadable:
            log.warning(
                "the Fernet key cannot decrypt %s: their values are not masked in task"
                " output shown here",
                ", ".join(unreadable),
            )
        return masker
