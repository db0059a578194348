"""Alembic's entry point: runs migrations on the connection that ``sluice.store.schema`` opened.

There is no alembic.ini: ``schema.alembic_config`` builds the configuration in code and
passes the open connection in ``config.attributes``, so that the caller's lock and
transaction cover the whole upgrade.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sluice.store.tables import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through sluice.store.schema (`sluice db migrate`)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
