"""`sluice db ...` and `sluice pools ...` against each test database."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from sluice.cli.main import cli
from sluice.store import schema
from sluice.store.cleanup import run_log_folder
from sluice.store.engine import Store
from sluice.store.tables import AuditLog, DagRun, Pool, TaskInstance

Invoke = Callable[..., Result]
OLD = datetime(2024, 1, 1, tzinfo=UTC)


def _invoker(store: Store, home: Path) -> Invoke:
    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        full_env = {
            "SLUICE_HOME": str(home),
            "SLUICE__DATABASE__SQL_ALCHEMY_CONN": store.url,
            "COLUMNS": "300",
            **(env or {}),
        }
        return CliRunner().invoke(cli, list(args), env=full_env, catch_exceptions=False)

    return run


@pytest.fixture
def sluice(store: Store, tmp_path: Path) -> Invoke:
    """Run ``sluice ARGS`` on the migrated test database."""
    return _invoker(store, tmp_path / "home")


@pytest.fixture
def sluice_empty(empty_store: Store, tmp_path: Path) -> Invoke:
    """Run ``sluice ARGS`` on the test database with no schema."""
    return _invoker(empty_store, tmp_path / "home")


def error_line(result: Result, code: int = 1) -> str:
    """The one red ``Error:`` line of a refused command."""
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert code == 2 or len(lines) == 1, result.stderr
    assert lines[-1].startswith("Error: "), result.stderr
    return lines[-1]


def _count(store: Store, table: type[DagRun] | type[TaskInstance] | type[Pool]) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def _finished_run(store: Store, run_id: str, end: datetime) -> None:
    with store.transaction() as session:
        session.add(
            DagRun(
                dag_id="etl", run_id=run_id, logical_date=end, run_type="manual",
                state="success", end_date=end,
            )
        )  # fmt: skip
        session.add(TaskInstance(dag_id="etl", run_id=run_id, task_id="t", state="success"))


# -- db migrate / check / reset --------------------------------------------------------


def test_migrate_then_check(sluice_empty: Invoke, empty_store: Store) -> None:
    head = schema.head_revision()
    before = sluice_empty("db", "check")
    assert "has no Sluice schema; run `sluice db migrate`" in error_line(before)

    first = sluice_empty("db", "migrate", env={"SLUICE__SCHEDULER__DEFAULT_POOL_SLOTS": "16"})
    again = sluice_empty("db", "migrate")
    after = sluice_empty("db", "check", "-o", "json")

    assert first.exit_code == 0 and f"from (empty) to {head}." in first.stdout
    assert again.exit_code == 0 and f"already at revision {head}; nothing to do" in again.stdout
    assert after.exit_code == 0, after.output
    status = json.loads(after.stdout)
    assert status["up_to_date"] is True and status["current_revision"] == head
    assert status["missing_tables"] == []
    with empty_store.transaction() as session:
        assert session.scalar(select(Pool.slots).where(Pool.pool == "default_pool")) == 16


def test_commands_that_need_the_schema_say_how_to_get_it(sluice_empty: Invoke) -> None:
    result = sluice_empty("pools", "list")
    assert "run `sluice db migrate`" in error_line(result)


def test_reset_needs_yes(sluice: Invoke, store: Store) -> None:
    _finished_run(store, "r", OLD)

    refused = sluice("db", "reset")
    assert "add --yes to do it" in error_line(refused)
    assert _count(store, DagRun) == 1

    done = sluice("db", "reset", "--yes")
    assert done.exit_code == 0, done.output
    assert "every table is empty" in done.stdout
    assert _count(store, DagRun) == 0 and _count(store, Pool) == 1


def test_an_unreachable_database(tmp_path: Path) -> None:
    env = {
        "SLUICE_HOME": str(tmp_path),
        "SLUICE__DATABASE__SQL_ALCHEMY_CONN": "postgresql://nobody@127.0.0.1:1/none",
    }
    result = CliRunner().invoke(cli, ["db", "check"], env=env, catch_exceptions=False)
    assert "Error: cannot use the database at postgresql" in error_line(result)


# -- db clean ------------------------------------------------------------------------


def test_clean_dry_run_then_delete(sluice: Invoke, store: Store, tmp_path: Path) -> None:
    _finished_run(store, "old", OLD)
    _finished_run(store, "new", datetime(2024, 3, 1, tzinfo=UTC))
    log = run_log_folder(tmp_path / "home" / "logs", "etl", "old") / "task_id=t" / "attempt=1.log"
    log.parent.mkdir(parents=True)
    log.write_text("hello\n")

    dry = sluice("db", "clean", "--older-than", "2024-02-01", "--dry-run", "-o", "json")
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True and report["older_than"] == "2024-02-01T00:00:00+00:00"
    assert report["counts"]["dag_run"] == 1 and report["counts"]["log_folders"] == 1
    assert _count(store, DagRun) == 2 and log.exists()

    done = sluice("db", "clean", "--older-than", "2024-02-01", "--yes")
    assert done.exit_code == 0, done.output
    assert "Deleted what ended before 2024-02-01T00:00:00+00:00" in done.stdout
    assert _count(store, DagRun) == 1 and not log.exists()
    with store.transaction() as session:
        events = session.scalars(select(AuditLog.event)).all()
    assert events == ["cli_db_clean"]


def test_clean_reads_a_naive_date_in_the_default_timezone(sluice: Invoke) -> None:
    env = {"SLUICE__CORE__DEFAULT_TIMEZONE": "Europe/Paris"}
    result = sluice("db", "clean", "--older-than", "2024-02-01", "--dry-run", "-o", "json", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["older_than"] == "2024-02-01T00:00:00+01:00"


def test_clean_refusals_change_nothing(sluice: Invoke, store: Store) -> None:
    _finished_run(store, "old", OLD)

    no_yes = sluice("db", "clean", "--older-than", "2024-02-01")
    future = sluice("db", "clean", "--older-than", "2999-01-01", "--yes")
    not_a_date = sluice("db", "clean", "--older-than", "last week", "--yes")
    no_date = sluice("db", "clean", "--yes")
    bad_batch = sluice("db", "clean", "--older-than", "2024-02-01", "--yes", "--batch-size", "0")

    assert "add --yes to do it, or --dry-run to count them first" in error_line(no_yes)
    assert "is in the future; give a date in the past" in error_line(future)
    assert "'last week' is not an ISO-8601 date" in error_line(not_a_date, 2)
    assert "Missing option '--older-than'" in error_line(no_date, 2)
    assert "--batch-size" in error_line(bad_batch, 2)
    assert _count(store, DagRun) == 1


# -- pools ---------------------------------------------------------------------------


def test_pools_set_list_delete(sluice: Invoke, store: Store) -> None:
    created = sluice("pools", "set", "db", "4", "--description", "the warehouse")
    updated = sluice("pools", "set", "db", "1")
    assert created.stdout == "Pool 'db' created: 4 slots.\n"
    assert updated.stdout == "Pool 'db' set: 1 slot.\n"

    listed = json.loads(sluice("pools", "list", "-o", "json").stdout)
    plain = sluice("pools", "list", "-o", "plain").stdout.splitlines()
    table = sluice("pools", "list").stdout

    assert [(p["pool"], p["slots"], p["description"]) for p in listed] == [
        ("db", 1, "the warehouse"),
        ("default_pool", 128, "Default pool"),
    ]
    assert listed[0]["open"] == 1 and listed[0]["occupied"] == 0
    assert plain[0] == "db\t1\t0\t0\t0\t1\tthe warehouse"
    assert "default_pool" in table and "scheduled" in table

    deleted = sluice("pools", "delete", "db")
    assert deleted.exit_code == 0 and deleted.stdout == "Pool 'db' deleted.\n"
    assert _count(store, Pool) == 1
    with store.transaction() as session:
        events = session.scalars(select(AuditLog.event).order_by(AuditLog.id)).all()
    assert events == ["cli_pools_set", "cli_pools_set", "cli_pools_delete"]


def test_pools_bad_inputs(sluice: Invoke, store: Store) -> None:
    negative = sluice("pools", "set", "db", "-1")
    not_int = sluice("pools", "set", "db", "many")
    bad_name = sluice("pools", "set", "my pool", "2")
    default = sluice("pools", "delete", "default_pool")
    missing = sluice("pools", "delete", "nope")

    assert "-1 is not in the range x>=0" in error_line(negative, 2)
    assert "'many' is not a valid integer" in error_line(not_int, 2)
    assert "pool name 'my pool' may hold only letters" in error_line(bad_name)
    assert "default_pool cannot be deleted" in error_line(default)
    assert error_line(missing) == "Error: Pool 'nope' not found. Known: default_pool"
    assert _count(store, Pool) == 1


def test_a_pool_in_use_is_not_deleted(sluice: Invoke, store: Store) -> None:
    assert sluice("pools", "set", "busy", "2").exit_code == 0
    _finished_run(store, "r", OLD)
    with store.transaction() as session:
        session.add(
            TaskInstance(dag_id="etl", run_id="r", task_id="u", state="running", pool="busy")
        )

    result = sluice("pools", "delete", "busy")

    assert "pool 'busy' is in use: 1 task instance is queued or running" in error_line(result)
    assert _count(store, Pool) == 2
