"""What every tab of a DAG's page shares: the DAG as stored, its header, links, states."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from sluice.actions.common import deserialized
from sluice.parsing.serialized import SerializedDag
from sluice.store.listings import split_owners
from sluice.store.run_queries import get_dag, get_serialized
from sluice.store.tables import Dag, SerializedDagRow
from sluice.web.links import dag_url
from sluice.web.rendering import STATE_COLORS

TABS = (
    ("grid", "Grid"),
    ("graph", "Graph"),
    ("gantt", "Gantt"),
    ("durations", "Run durations"),
    ("calendar", "Calendar"),
    ("code", "Code"),
    ("details", "Details"),
)

STATE_PRIORITY = (
    "failed", "upstream_failed", "up_for_retry", "up_for_reschedule", "restarting", "running",
    "queued", "scheduled", None, "skipped", "success", "removed",
)  # fmt: skip
"""Which state a summary of several instances shows: the first one present."""

NO_STATE = "var(--line)"
"""How a task instance with no state is drawn (transparent would hide it)."""


@dataclass(frozen=True)
class StoredDag:
    """A DAG's row and its serialized form, as the DAG processor last stored them."""

    row: Dag
    serialized: SerializedDagRow
    dag: SerializedDag

    @property
    def dag_id(self) -> str:
        return self.row.dag_id


def load_dag(session: Session, dag_id: str) -> StoredDag:
    """The DAG's row and serialized form; DagNotFound (a 404 page) names the DAG."""
    row = get_dag(session, dag_id)
    serialized = get_serialized(session, dag_id)
    return StoredDag(row, serialized, deserialized(serialized))


def color(state: str | None) -> str:
    """A state's colour, with something visible for no state."""
    if state is None:
        return NO_STATE
    return STATE_COLORS.get(state, "#777777")


def worst_state(states: Iterable[str | None]) -> str | None:
    """The state that a summary of ``states`` shows (STATE_PRIORITY)."""
    present = set(states)
    for state in STATE_PRIORITY:
        if state in present:
            return state
    return next(iter(sorted(s for s in present if s is not None)), None)


def header(stored: StoredDag, tab: str) -> dict[str, Any]:
    """The context of ``dag_base.html``: the DAG header and the tabs."""
    dag = stored.dag
    owners = stored.row.owners or dag.owner
    return {
        "dag_id": stored.dag_id,
        "dag": dag,
        "dag_row": stored.row,
        "owners": split_owners(owners),
        "tab": tab,
        "tab_title": dict(TABS).get(tab, tab),
        "tabs": [(name, title, dag_url(stored.dag_id, name)) for name, title in TABS],
        "dag_path": dag_url(stored.dag_id),
        "nav": "dags",
    }
