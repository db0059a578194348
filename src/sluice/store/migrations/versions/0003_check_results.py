"""Data-quality check results: one row per check per try of a task instance.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

The column types are spelled out here, as in 0001, so that this revision stays what it
was when ``sluice.store.types`` changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = 250
TABLE = "check_result"
# UtcDateTime: PostgreSQL keeps the offset; MySQL needs microseconds asked for explicitly.
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql")

INDEXES = (
    # The results of one try of one task instance (the task instance page, the API).
    ("dag_id", "run_id", "task_id", "map_index", "try_number"),
    # A table's results over time, newest first (the /checks pages, the API's filter).
    ("table_name", "id"),
    # Every result of one DAG, newest first (the API's dag_id filter).
    ("dag_id", "id"),
)


def upgrade() -> None:
    """Create the check_result table and its indexes."""
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(length=ID), nullable=False),
        sa.Column("run_id", sa.String(length=ID), nullable=False),
        sa.Column("task_id", sa.String(length=ID), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("check_name", sa.String(length=ID), nullable=False),
        sa.Column("check_type", sa.String(length=20), nullable=False),
        sa.Column("table_name", sa.String(length=ID), nullable=True),
        sa.Column("column_name", sa.String(length=ID), nullable=True),
        sa.Column("observed", sa.Text(), nullable=True),
        sa.Column("expectation", sa.Text(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
    )
    for columns in INDEXES:
        op.create_index(op.f(_index_name(columns)), TABLE, list(columns), unique=False)


def downgrade() -> None:
    """Drop the table (its indexes go with it)."""
    op.drop_table(TABLE)


def _index_name(columns: tuple[str, ...]) -> str:
    return f"ix_{TABLE}_{'_'.join(columns)}"
