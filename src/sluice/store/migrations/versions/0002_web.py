"""The web UI and REST API: users get an API token (kept as a hash), and the indexes the
newest-first lists of task instances and DAG runs need.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES = {
    # Cross-run task instance lists, newest first, of one DAG or in one state: the
    # index gives the order, so a page never sorts the whole history.
    "ix_task_instance_dag_id_id": ("task_instance", ["dag_id", "id"]),
    "ix_task_instance_state_id": ("task_instance", ["state", "id"]),
    # The cross-DAG run list, newest logical date first.
    "ix_dag_run_logical_date_id": ("dag_run", ["logical_date", "id"]),
}


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("api_token_hash", sa.String(length=128), nullable=True))
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("user") as batch:
        batch.drop_column("api_token_hash")
