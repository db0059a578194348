"""The heartbeat of a running try: proof to the scheduler that its process is alive."""

from __future__ import annotations

import logging
import threading

from sluice.store import transitions
from sluice.store.engine import Store

log = logging.getLogger("sluice.runner")


class Heartbeat:
    """A thread that tells the database the try is alive, every ``interval`` seconds."""

    def __init__(self, store: Store, ti_id: int, *, pid: int, interval: float) -> None:
        self.store = store
        self.ti_id = ti_id
        self.pid = pid
        self.interval = interval
        self.lost = False
        """Set when a heartbeat found the instance no longer running for this process."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="sluice-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.store.transaction() as session:
                    alive = transitions.heartbeat(session, self.ti_id, pid=self.pid)
            except Exception as exc:  # the database away for a while: try again next time
                log.warning("heartbeat failed: %s: %s", type(exc).__name__, exc)
                continue
            if not alive:
                self.lost = True
                log.warning(
                    "this task instance is no longer running for this process: it was "
                    "cleared, marked or declared dead meanwhile; its outcome will not be written"
                )
                return
