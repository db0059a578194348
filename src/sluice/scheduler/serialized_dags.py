"""The scheduler's view of DAGs: serialized rows from the database, rebuilt once per hash.

The scheduler never imports a DAG file; it works from what the DAG processor stored.
Deserializing is the expensive part, so each DAG is rebuilt only when its hash changes.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from sluice.core.errors import SluiceError
from sluice.parsing.serialize import deserialize_dag
from sluice.parsing.serialized import SerializedDag
from sluice.store.tables import SerializedDagRow

log = logging.getLogger("sluice.scheduler")

_ROWS = cast(Table, SerializedDagRow.__table__)
_HASHES = select(_ROWS.c.dag_id, _ROWS.c.dag_hash).where(
    _ROWS.c.dag_id.in_(bindparam("dag_ids", expanding=True))
)
"""Built once (Core, which costs less to run than ORM): the scheduler runs it every pass."""


class SerializedDagCache:
    """Serialized DAGs by id, rebuilt from the database only when their hash changed."""

    def __init__(self) -> None:
        self._dags: dict[str, tuple[str, SerializedDag]] = {}
        self._broken: dict[str, str] = {}

    def get(self, session: Session, dag_id: str) -> SerializedDag | None:
        """The DAG's current serialized form; None if it has none (or it cannot be read)."""
        return self.get_many(session, [dag_id]).get(dag_id)

    def get_many(self, session: Session, dag_ids: Collection[str]) -> dict[str, SerializedDag]:
        """Several DAGs at once: one query for their hashes, one more for changed ones."""
        if not dag_ids:
            return {}
        rows = session.execute(_HASHES, {"dag_ids": list(set(dag_ids))})
        # Not dict(rows): a Result has keys() (its column names), which dict() would use.
        hashes = {dag_id: digest for dag_id, digest in rows}
        stale = [
            dag_id
            for dag_id, digest in hashes.items()
            if self._dags.get(dag_id, ("",))[0] != digest and self._broken.get(dag_id) != digest
        ]
        if stale:
            data_rows = session.execute(
                select(SerializedDagRow.dag_id, SerializedDagRow.dag_hash, SerializedDagRow.data)
                .where(SerializedDagRow.dag_id.in_(stale))
            )  # fmt: skip
            for dag_id, digest, data in data_rows:
                try:
                    self._dags[dag_id] = (digest, deserialize_dag(data))
                    self._broken.pop(dag_id, None)
                except SluiceError as exc:
                    # Logged once per version; its runs wait until a good version is stored.
                    log.error("cannot read the serialized DAG '%s': %s", dag_id, exc)
                    self._broken[dag_id] = digest
                    self._dags.pop(dag_id, None)
        return {
            dag_id: self._dags[dag_id][1]
            for dag_id, digest in hashes.items()
            if dag_id in self._dags and self._dags[dag_id][0] == digest
        }
