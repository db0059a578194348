"""The connections the example DAGs use, made once so that they run offline.

As Airflow's ``load_default_connections``: with ``[core] load_examples`` on, ``sluice
standalone`` and ``sluice db migrate`` create each of these connections that does not exist
yet, pointing at SQLite files and a folder under ``SLUICE_HOME/example_data`` and at the
sample CSV the web server serves. A connection that exists is never changed: point
``elt_warehouse`` at PostgreSQL (``sluice connections delete elt_warehouse`` then ``add``)
and the ELT example loads into it.
"""

from __future__ import annotations

import json
from typing import Any

from sluice.config import Settings
from sluice.store.engine import Store

DATA_FOLDER = "example_data"


def example_connections(settings: Settings) -> dict[str, dict[str, Any]]:
    """The example connections' fields, by conn_id."""
    data = settings.home / DATA_FOLDER
    port = settings.get_int("webserver", "port")
    return {
        "elt_source": {"conn_type": "sqlite", "host": str(data / "shop.db"),
                       "description": "Example ELT source: a shop's orders (SQLite)"},
        "elt_warehouse": {"conn_type": "sqlite", "host": str(data / "warehouse.db"),
                          "description": "Example ELT warehouse (SQLite; PostgreSQL works too)"},
        "elt_lake": {"conn_type": "fs", "extra": json.dumps({"path": str(data / "lake")}),
                     "description": "Example ELT object storage (a local folder; S3 works too)"},
        "example_rates_http": {"conn_type": "http", "host": "127.0.0.1", "port": port,
                               "schema": "http",
                               "description": "Example HTTP CSV source (this web server)"},
    }  # fmt: skip


def ensure_example_connections(settings: Settings, store: Store) -> list[str]:
    """Create the example connections that do not exist (with load_examples on); returns
    the ids created."""
    if not settings.get_bool("core", "load_examples"):
        return []
    from sluice.store import connections

    created = []
    with store.transaction() as session:
        for conn_id, fields in example_connections(settings).items():
            if connections.get_connection(session, conn_id) is None:
                connections.create_connection(session, conn_id, fields)
                created.append(conn_id)
    (settings.home / DATA_FOLDER).mkdir(parents=True, exist_ok=True)
    return created
