"""The tables of the metadata database (DESIGN.md's data model)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sluice.store.types import LongText, UtcDateTime

# Named constraints so that Alembic migrations are the same on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = 250
"""Length of DAG, task and run ids, as Airflow's ID_LEN."""


class Base(DeclarativeBase):
    """Base of every table."""

    metadata = MetaData(naming_convention=NAMING)


class Dag(Base):
    """One row per DAG id ever parsed; kept (inactive) when its file goes away."""

    __tablename__ = "dag"

    dag_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    fileloc: Mapped[str] = mapped_column(Text)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    owners: Mapped[str] = mapped_column(String(2000), default="")
    tags: Mapped[str] = mapped_column(Text, default="[]")
    """JSON list."""
    description: Mapped[str | None] = mapped_column(Text)
    schedule: Mapped[str | None] = mapped_column(String(1000))
    timetable_description: Mapped[str | None] = mapped_column(String(1000))
    max_active_runs: Mapped[int] = mapped_column(Integer, default=16)
    max_active_tasks: Mapped[int] = mapped_column(Integer, default=16)
    has_import_errors: Mapped[bool] = mapped_column(Boolean, default=False)
    next_dagrun: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_dagrun_data_interval_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_dagrun_data_interval_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_dagrun_create_after: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_parsed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index(None, "is_paused", "is_active", "next_dagrun_create_after"),)


class SerializedDagRow(Base):
    """The latest serialized form of a DAG: what the scheduler and the web read."""

    __tablename__ = "serialized_dag"

    dag_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("dag.dag_id", ondelete="CASCADE"), primary_key=True
    )
    fileloc: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(LongText)
    dag_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DagFile(Base):
    """A DAG file as the DAG processor last saw it."""

    __tablename__ = "dag_file"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(Text)
    path_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """sha256 of the path: MySQL cannot index long text."""
    mtime: Mapped[float] = mapped_column(Float)
    content_hash: Mapped[str] = mapped_column(String(64))
    last_parsed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    duration: Mapped[float] = mapped_column(Float)
    dag_count: Mapped[int] = mapped_column(Integer, default=0)
    task_count: Mapped[int] = mapped_column(Integer, default=0)
    has_error: Mapped[bool] = mapped_column(Boolean, default=False)
    is_present: Mapped[bool] = mapped_column(Boolean, default=True)


class ImportErrorRow(Base):
    """A DAG file that failed to import, until it is fixed."""

    __tablename__ = "import_error"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    filename: Mapped[str] = mapped_column(Text)
    path_hash: Mapped[str] = mapped_column(String(64), index=True)
    line: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    stacktrace: Mapped[str] = mapped_column(LongText)
    dag_id: Mapped[str | None] = mapped_column(String(ID))
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime)


class Backfill(Base):
    """A backfill request that the scheduler carries out run by run."""

    __tablename__ = "backfill"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID), index=True)
    from_date: Mapped[datetime] = mapped_column(UtcDateTime)
    to_date: Mapped[datetime] = mapped_column(UtcDateTime)
    reset_dagruns: Mapped[bool] = mapped_column(Boolean, default=False)
    rerun_failed_tasks: Mapped[bool] = mapped_column(Boolean, default=False)
    max_active_runs: Mapped[int] = mapped_column(Integer, default=10)
    conf: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(20), default="running")
    """running, paused, cancelled or completed."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DagRun(Base):
    """One run of a DAG."""

    __tablename__ = "dag_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID))
    run_id: Mapped[str] = mapped_column(String(ID))
    logical_date: Mapped[datetime] = mapped_column(UtcDateTime)
    data_interval_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    data_interval_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    run_after: Mapped[datetime | None] = mapped_column(UtcDateTime)
    run_type: Mapped[str] = mapped_column(String(16))
    """scheduled, manual or backfill."""
    state: Mapped[str] = mapped_column(String(16))
    conf: Mapped[str] = mapped_column(Text, default="{}")
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    backfill_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("backfill.id", ondelete="SET NULL")
    )
    creating_job_id: Mapped[int | None] = mapped_column(Integer)
    clear_number: Mapped[int] = mapped_column(Integer, default=0)
    needs_scheduling: Mapped[bool] = mapped_column(Boolean, default=True)
    """Set when something in the run changed and the scheduler should decide again."""
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("dag_id", "run_id"),
        UniqueConstraint("dag_id", "logical_date"),
        Index(None, "state", "needs_scheduling"),
        Index(None, "dag_id", "state"),
        Index(None, "logical_date", "id"),
    )


class TaskInstance(Base):
    """One task in one run (one map index of a mapped task)."""

    __tablename__ = "task_instance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID))
    run_id: Mapped[str] = mapped_column(String(ID))
    task_id: Mapped[str] = mapped_column(String(ID))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    state: Mapped[str | None] = mapped_column(String(20))
    try_number: Mapped[int] = mapped_column(Integer, default=0)
    max_tries: Mapped[int] = mapped_column(Integer, default=0)
    hostname: Mapped[str] = mapped_column(String(1000), default="")
    pid: Mapped[int | None] = mapped_column(Integer)
    queued_dttm: Mapped[datetime | None] = mapped_column(UtcDateTime)
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    duration: Mapped[float | None] = mapped_column(Float)
    pool: Mapped[str] = mapped_column(String(256), default="default_pool")
    pool_slots: Mapped[int] = mapped_column(Integer, default=1)
    priority_weight: Mapped[int] = mapped_column(Integer, default=1)
    queue: Mapped[str] = mapped_column(String(256), default="default")
    operator: Mapped[str | None] = mapped_column(String(1000))
    next_try_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When an up_for_retry or up_for_reschedule instance may run again."""
    first_try_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """Start of the first try of a sensor, to measure its timeout across reschedules."""
    queued_by_job_id: Mapped[int | None] = mapped_column(Integer)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    external_executor_id: Mapped[str | None] = mapped_column(String(250))
    rendered_fields: Mapped[str | None] = mapped_column(LongText)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("dag_id", "run_id", "task_id", "map_index"),
        Index(None, "dag_id", "run_id", "state"),
        Index(None, "state", "pool"),
        Index(None, "state", "next_try_at"),
        Index(None, "state", "last_heartbeat_at"),
        Index(None, "dag_id", "task_id", "state"),
        Index(None, "dag_id", "id"),
        Index(None, "state", "id"),
    )


class TaskTry(Base):
    """One try of a task instance, with where its log is."""

    __tablename__ = "task_try"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID))
    run_id: Mapped[str] = mapped_column(String(ID))
    task_id: Mapped[str] = mapped_column(String(ID))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    try_number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str | None] = mapped_column(String(20))
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    duration: Mapped[float | None] = mapped_column(Float)
    hostname: Mapped[str] = mapped_column(String(1000), default="")
    pid: Mapped[int | None] = mapped_column(Integer)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    log_path: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("dag_id", "run_id", "task_id", "map_index", "try_number"),)


class XCom(Base):
    """A value a task pushed."""

    __tablename__ = "xcom"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The run's integer id keeps the unique key within MySQL's 3072-byte index limit.
    dag_run_id: Mapped[int] = mapped_column(Integer, ForeignKey("dag_run.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(String(ID))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    key: Mapped[str] = mapped_column(String(512))
    dag_id: Mapped[str] = mapped_column(String(ID))
    run_id: Mapped[str] = mapped_column(String(ID))
    value: Mapped[str] = mapped_column(LongText)
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("dag_run_id", "task_id", "map_index", "key"),)


class Variable(Base):
    """A Variable (the integrations issue adds encryption and the CLI)."""

    __tablename__ = "variable"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(ID), unique=True)
    val: Mapped[str | None] = mapped_column(LongText)
    description: Mapped[str | None] = mapped_column(Text)
    is_encrypted: Mapped[bool] = mapped_column(Boolean, default=False)


class Connection(Base):
    """A Connection (the integrations issue adds encryption and the CLI)."""

    __tablename__ = "connection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conn_id: Mapped[str] = mapped_column(String(ID), unique=True)
    conn_type: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(500))
    schema: Mapped[str | None] = mapped_column(String(500))
    login: Mapped[str | None] = mapped_column(Text)
    password: Mapped[str | None] = mapped_column(Text)
    port: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[str | None] = mapped_column(Text)
    is_encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    is_extra_encrypted: Mapped[bool] = mapped_column(Boolean, default=False)


class Pool(Base):
    """A pool of slots that limits how many task instances run at once."""

    __tablename__ = "slot_pool"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pool: Mapped[str] = mapped_column(String(256), unique=True)
    slots: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)


class Job(Base):
    """A scheduler, DAG processor or worker process, with its heartbeat."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_type: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(20))
    hostname: Mapped[str] = mapped_column(String(1000), default="")
    pid: Mapped[int | None] = mapped_column(Integer)
    start_date: Mapped[datetime] = mapped_column(UtcDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    latest_heartbeat: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index(None, "job_type", "state", "latest_heartbeat"),)


class User(Base):
    """A person who logs in to the web UI and the REST API."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(256), unique=True)
    password_hash: Mapped[str] = mapped_column(String(512))
    role: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(512))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_login: Mapped[datetime | None] = mapped_column(UtcDateTime)
    api_token_hash: Mapped[str | None] = mapped_column(String(128))
    """sha256 of the user's API token; the token itself is shown once."""


class AuditLog(Base):
    """Who did what, when: CLI, API and UI actions."""

    __tablename__ = "log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dttm: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    event: Mapped[str] = mapped_column(String(60))
    owner: Mapped[str | None] = mapped_column(String(500))
    dag_id: Mapped[str | None] = mapped_column(String(ID))
    task_id: Mapped[str | None] = mapped_column(String(ID))
    run_id: Mapped[str | None] = mapped_column(String(ID))
    map_index: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "dag_id", "dttm"),)


class CheckResult(Base):
    """The outcome of one data-quality check in one try of a task instance."""

    __tablename__ = "check_result"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID))
    run_id: Mapped[str] = mapped_column(String(ID))
    task_id: Mapped[str] = mapped_column(String(ID))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    try_number: Mapped[int] = mapped_column(Integer)
    check_name: Mapped[str] = mapped_column(String(ID))
    check_type: Mapped[str] = mapped_column(String(20))
    """column, table, sql, value, threshold or interval."""
    table_name: Mapped[str | None] = mapped_column(String(ID))
    column_name: Mapped[str | None] = mapped_column(String(ID))
    observed: Mapped[str | None] = mapped_column(Text)
    """The value the check saw, as text; None for SQL NULL."""
    expectation: Mapped[str] = mapped_column(Text)
    """What the check wanted, for people: ``null_check equal_to 0``, ``between 10 and 20``."""
    passed: Mapped[bool] = mapped_column(Boolean)
    severity: Mapped[str] = mapped_column(String(10))
    """error (a failure fails the task) or warn (it is only recorded)."""
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index(None, "dag_id", "run_id", "task_id", "map_index", "try_number"),
        Index(None, "table_name", "id"),
        Index(None, "dag_id", "id"),
    )

    @property
    def outcome(self) -> str:
        """``pass``, ``fail``, or ``warn`` (a failed check of severity warn)."""
        if self.passed:
            return "pass"
        return "warn" if self.severity == "warn" else "fail"
