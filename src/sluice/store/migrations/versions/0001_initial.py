"""Every table of the first schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

The column types are spelled out here rather than imported from ``sluice.store.types``,
so that this revision stays what it was when later revisions change those types.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = 250
# UtcDateTime: PostgreSQL keeps the offset; MySQL needs microseconds asked for explicitly.
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql")
LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql")


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), autoincrement=True, nullable=False)


def _str(name: str, length: int = ID, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _text(name: str, *, nullable: bool = False, long: bool = False) -> sa.Column[str]:
    return sa.Column(name, LONG_TEXT if long else sa.Text(), nullable=nullable)


def _int(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def _float(name: str, *, nullable: bool = False) -> sa.Column[float]:
    return sa.Column(name, sa.Float(), nullable=nullable)


def _bool(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), nullable=False)


def _time(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, TIMESTAMP, nullable=nullable)


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*(columns or ("id",)), name=op.f(f"pk_{table}"))


def _unique(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns), unique=False)


def upgrade() -> None:
    """Create every table of the first schema."""
    op.create_table(
        "backfill",
        _id(),
        _str("dag_id"),
        _time("from_date", nullable=False),
        _time("to_date", nullable=False),
        _bool("reset_dagruns"),
        _bool("rerun_failed_tasks"),
        _int("max_active_runs"),
        _text("conf"),
        _str("state", 20),
        _time("created_at", nullable=False),
        _time("completed_at"),
        _pk("backfill"),
    )
    _index("backfill", "dag_id")

    op.create_table(
        "connection",
        _id(),
        _str("conn_id"),
        _str("conn_type", 500),
        _text("description", nullable=True),
        _str("host", 500, nullable=True),
        _str("schema", 500, nullable=True),
        _text("login", nullable=True),
        _text("password", nullable=True),
        _int("port", nullable=True),
        _text("extra", nullable=True),
        _bool("is_encrypted"),
        _bool("is_extra_encrypted"),
        _pk("connection"),
        _unique("connection", "conn_id"),
    )

    op.create_table(
        "dag",
        _str("dag_id"),
        _text("fileloc"),
        _bool("is_paused"),
        _bool("is_active"),
        _str("owners", 2000),
        _text("tags"),
        _text("description", nullable=True),
        _str("schedule", 1000, nullable=True),
        _str("timetable_description", 1000, nullable=True),
        _int("max_active_runs"),
        _int("max_active_tasks"),
        _bool("has_import_errors"),
        _time("next_dagrun"),
        _time("next_dagrun_data_interval_start"),
        _time("next_dagrun_data_interval_end"),
        _time("next_dagrun_create_after"),
        _time("last_parsed_at"),
        _pk("dag", "dag_id"),
    )
    _index("dag", "is_paused", "is_active", "next_dagrun_create_after")

    op.create_table(
        "dag_file",
        _id(),
        _text("path"),
        _str("path_hash", 64),
        _float("mtime"),
        _str("content_hash", 64),
        _time("last_parsed_at", nullable=False),
        _float("duration"),
        _int("dag_count"),
        _int("task_count"),
        _bool("has_error"),
        _bool("is_present"),
        _pk("dag_file"),
        _unique("dag_file", "path_hash"),
    )

    op.create_table(
        "import_error",
        _id(),
        _text("filename"),
        _str("path_hash", 64),
        _int("line", nullable=True),
        _text("message"),
        _text("stacktrace", long=True),
        _str("dag_id", nullable=True),
        _time("timestamp", nullable=False),
        _pk("import_error"),
    )
    _index("import_error", "path_hash")

    op.create_table(
        "job",
        _id(),
        _str("job_type", 30),
        _str("state", 20),
        _str("hostname", 1000),
        _int("pid", nullable=True),
        _time("start_date", nullable=False),
        _time("end_date"),
        _time("latest_heartbeat", nullable=False),
        _pk("job"),
    )
    _index("job", "job_type", "state", "latest_heartbeat")

    op.create_table(
        "log",
        _id(),
        _time("dttm", nullable=False),
        _str("event", 60),
        _str("owner", 500, nullable=True),
        _str("dag_id", nullable=True),
        _str("task_id", nullable=True),
        _str("run_id", nullable=True),
        _int("map_index", nullable=True),
        _text("extra", nullable=True),
        _pk("log"),
    )
    _index("log", "dag_id", "dttm")
    _index("log", "dttm")

    op.create_table(
        "slot_pool",
        _id(),
        _str("pool", 256),
        _int("slots"),
        _text("description", nullable=True),
        _pk("slot_pool"),
        _unique("slot_pool", "pool"),
    )

    op.create_table(
        "task_instance",
        _id(),
        _str("dag_id"),
        _str("run_id"),
        _str("task_id"),
        _int("map_index"),
        _str("state", 20, nullable=True),
        _int("try_number"),
        _int("max_tries"),
        _str("hostname", 1000),
        _int("pid", nullable=True),
        _time("queued_dttm"),
        _time("start_date"),
        _time("end_date"),
        _float("duration", nullable=True),
        _str("pool", 256),
        _int("pool_slots"),
        _int("priority_weight"),
        _str("queue", 256),
        _str("operator", 1000, nullable=True),
        _time("next_try_at"),
        _time("first_try_start"),
        _int("queued_by_job_id", nullable=True),
        _time("last_heartbeat_at"),
        _str("external_executor_id", nullable=True),
        _text("rendered_fields", nullable=True, long=True),
        _time("updated_at"),
        _pk("task_instance"),
        _unique("task_instance", "dag_id", "run_id", "task_id", "map_index"),
    )
    _index("task_instance", "dag_id", "run_id", "state")
    _index("task_instance", "dag_id", "task_id", "state")
    _index("task_instance", "state", "last_heartbeat_at")
    _index("task_instance", "state", "next_try_at")
    _index("task_instance", "state", "pool")

    op.create_table(
        "task_try",
        _id(),
        _str("dag_id"),
        _str("run_id"),
        _str("task_id"),
        _int("map_index"),
        _int("try_number"),
        _str("state", 20, nullable=True),
        _time("start_date"),
        _time("end_date"),
        _float("duration", nullable=True),
        _str("hostname", 1000),
        _int("pid", nullable=True),
        _int("exit_code", nullable=True),
        _text("log_path", nullable=True),
        _text("error", nullable=True),
        _pk("task_try"),
        _unique("task_try", "dag_id", "run_id", "task_id", "map_index", "try_number"),
    )

    op.create_table(
        "user",
        _id(),
        _str("username", 256),
        _str("password_hash", 512),
        _str("role", 32),
        _str("email", 512, nullable=True),
        _bool("active"),
        _time("created_at", nullable=False),
        _time("last_login"),
        _pk("user"),
        _unique("user", "username"),
    )

    op.create_table(
        "variable",
        _id(),
        _str("key"),
        _text("val", nullable=True, long=True),
        _text("description", nullable=True),
        _bool("is_encrypted"),
        _pk("variable"),
        _unique("variable", "key"),
    )

    op.create_table(
        "dag_run",
        _id(),
        _str("dag_id"),
        _str("run_id"),
        _time("logical_date", nullable=False),
        _time("data_interval_start"),
        _time("data_interval_end"),
        _time("run_after"),
        _str("run_type", 16),
        _str("state", 16),
        _text("conf"),
        _time("queued_at"),
        _time("start_date"),
        _time("end_date"),
        _int("backfill_id", nullable=True),
        _int("creating_job_id", nullable=True),
        _int("clear_number"),
        _bool("needs_scheduling"),
        _time("updated_at"),
        sa.ForeignKeyConstraint(
            ["backfill_id"],
            ["backfill.id"],
            name=op.f("fk_dag_run_backfill_id_backfill"),
            ondelete="SET NULL",
        ),
        _pk("dag_run"),
        _unique("dag_run", "dag_id", "logical_date"),
        _unique("dag_run", "dag_id", "run_id"),
    )
    _index("dag_run", "dag_id", "state")
    _index("dag_run", "state", "needs_scheduling")

    op.create_table(
        "serialized_dag",
        _str("dag_id"),
        _text("fileloc"),
        _text("data", long=True),
        _str("dag_hash", 64),
        _time("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_id"],
            ["dag.dag_id"],
            name=op.f("fk_serialized_dag_dag_id_dag"),
            ondelete="CASCADE",
        ),
        _pk("serialized_dag", "dag_id"),
    )

    op.create_table(
        "xcom",
        _id(),
        _int("dag_run_id"),
        _str("task_id"),
        _int("map_index"),
        _str("key", 512),
        _str("dag_id"),
        _str("run_id"),
        _text("value", long=True),
        _time("timestamp", nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_run_id"],
            ["dag_run.id"],
            name=op.f("fk_xcom_dag_run_id_dag_run"),
            ondelete="CASCADE",
        ),
        _pk("xcom"),
        _unique("xcom", "dag_run_id", "task_id", "map_index", "key"),
    )


def downgrade() -> None:
    """Drop every table (children before the tables they refer to)."""
    for table in (
        "xcom",
        "serialized_dag",
        "dag_run",
        "variable",
        "user",
        "task_try",
        "task_instance",
        "slot_pool",
        "log",
        "job",
        "import_error",
        "dag_file",
        "dag",
        "connection",
        "backfill",
    ):
        op.drop_table(table)
