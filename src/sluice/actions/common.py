"""What the actions share: who acts, the audit log, the stored DAG, refusals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from sluice.core.errors import ParamValidationError, SluiceError
from sluice.parsing.serialize import deserialize_dag
from sluice.parsing.serialized import SerializedDag
from sluice.store.audit import log_event
from sluice.store.run_queries import get_serialized
from sluice.store.tables import SerializedDagRow


class ActionRefused(SluiceError):
    """Raised when an action will not do what it was asked, and says why."""


@dataclass(frozen=True)
class Actor:
    """Who acts, and through what: ``via`` is ``cli``, ``ui`` or ``api``."""

    name: str
    via: str

    def record(
        self,
        session: Session,
        event: str,
        *,
        dag_id: str | None = None,
        run_id: str | None = None,
        task_id: str | None = None,
        map_index: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Write the audit row of an action that changed something (``<via>_<event>``)."""
        log_event(
            session, f"{self.via}_{event}", self.name, dag_id=dag_id, task_id=task_id,
            run_id=run_id, extra=extra, map_index=map_index,
        )  # fmt: skip


CACHED_DAGS = 64
"""Deserialized DAGs kept by (dag id, hash): a 1,000-task DAG takes a while to rebuild,
and every page of a DAG in the web server needs it."""

_cache: dict[tuple[str, str], SerializedDag] = {}


def deserialized(row: SerializedDagRow) -> SerializedDag:
    """The DAG a serialized row holds, rebuilt once per version (it is frozen: shared)."""
    key = (row.dag_id, row.dag_hash)
    dag = _cache.get(key)
    if dag is None:
        dag = deserialize_dag(row.data)
        if len(_cache) >= CACHED_DAGS:
            _cache.clear()
        _cache[key] = dag
    return dag


def load_stored_dag(session: Session, dag_id: str) -> SerializedDag:
    """The DAG as the DAG processor last stored it (DagNotFound when it never was)."""
    return deserialized(get_serialized(session, dag_id))


def check_conf(dag: SerializedDag, conf: Mapping[str, Any] | None, *, label: str = "conf") -> None:
    """Refuse a run conf that does not satisfy the DAG's params."""
    try:
        dag.params_dict().resolve(conf)
    except ParamValidationError as exc:
        raise ParamValidationError(
            f"{label} does not fit the params of DAG '{dag.dag_id}': {exc}"
        ) from None
