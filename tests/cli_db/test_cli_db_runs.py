"""`sluice dags pause/unpause/list-runs/state/delete` on the metadata database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.cli_db.conftest import Sluice
from tests.cli_db.helpers import (
    START,
    add_dag,
    add_run,
    as_json,
    audit_events,
    chain_dag,
    error_line,
    finish,
    move_run,
    move_ti,
    ok,
)

from sluice.store.engine import Store
from sluice.store.tables import AuditLog, Dag, DagRun, SerializedDagRow, TaskInstance


def _paused(store: Store, dag_id: str = "etl") -> bool:
    with store.transaction() as session:
        dag = session.get(Dag, dag_id)
        assert dag is not None
        return bool(dag.is_paused)


def test_pause_and_unpause(store: Store, sluice: Sluice) -> None:
    add_dag(store, chain_dag())

    assert ok(sluice("dags", "pause", "etl")).stdout == "DAG 'etl' paused.\n"
    assert _paused(store)
    assert ok(sluice("dags", "pause", "etl")).stdout == "DAG 'etl' was already paused.\n"
    assert ok(sluice("dags", "unpause", "etl")).stdout == "DAG 'etl' unpaused.\n"
    assert not _paused(store)
    assert ok(sluice("dags", "unpause", "etl")).stdout == "DAG 'etl' was not paused.\n"
    assert audit_events(store) == [("cli_dags_pause", "etl"), ("cli_dags_unpause", "etl")]


def test_pause_unknown_dag(store: Store, sluice: Sluice) -> None:
    add_dag(store, chain_dag())

    assert error_line(sluice("dags", "pause", "eto")) == (
        "Error: DAG 'eto' not found in the database. Did you mean: 'etl'?"
    )


def _catchup_dag(store: Store, *, days: int, next_dagrun: datetime | None = None) -> None:
    start = (datetime.now(UTC) - timedelta(days=days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    add_dag(
        store, chain_dag(start=start, catchup=True), paused=True, next_dagrun=next_dagrun or start
    )


def test_unpause_guards_a_large_catchup(store: Store, sluice: Sluice) -> None:
    _catchup_dag(store, days=60)
    today = datetime.now(UTC).date()
    first, last = today - timedelta(days=60), today - timedelta(days=1)

    refused = sluice("dags", "unpause", "etl")

    assert error_line(refused) == (
        f"Error: unpausing DAG 'etl' starts catchup: 60 runs, logical dates"
        f" {first}T00:00:00+00:00 to {last}T00:00:00+00:00, more than [scheduler]"
        " catchup_confirm_threshold (50). Add --yes to unpause anyway, or backfill a smaller"
        " range with `sluice dags backfill`"
    )
    assert _paused(store)
    assert audit_events(store) == []

    result = ok(sluice("dags", "unpause", "etl", "--yes"))
    assert not _paused(store)
    assert f"Catchup creates 60 runs, logical dates {first}T00:00:00+00:00" in result.stderr


def test_unpause_below_the_threshold_or_with_a_raised_one(store: Store, sluice: Sluice) -> None:
    _catchup_dag(store, days=60)

    result = ok(
        sluice("dags", "unpause", "etl", env={"SLUICE__SCHEDULER__CATCHUP_CONFIRM_THRESHOLD": "60"})
    )

    assert "Catchup creates 60 runs" in result.stderr


def test_unpause_counts_from_the_dags_next_run(store: Store, sluice: Sluice) -> None:
    # Most of the 60 days already ran: only the last 5 are missed.
    next_run = (datetime.now(UTC) - timedelta(days=5)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    _catchup_dag(store, days=60, next_dagrun=next_run)

    result = ok(sluice("dags", "unpause", "etl"))

    assert "Catchup creates 5 runs" in result.stderr


def test_unpause_of_a_very_long_catchup_says_more_than(store: Store, sluice: Sluice) -> None:
    # Hourly since 2024: tens of thousands of runs; they are not all walked one by one.
    add_dag(store, chain_dag(schedule="@hourly", catchup=True), paused=True, next_dagrun=START)
    latest = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)

    result = sluice("dags", "unpause", "etl")

    assert error_line(result).startswith(
        "Error: unpausing DAG 'etl' starts catchup: more than 200 runs, logical dates"
        f" 2024-01-01T00:00:00+00:00 to {latest.isoformat()}, more than [scheduler]"
    )


def test_unpause_without_catchup_needs_no_confirmation(store: Store, sluice: Sluice) -> None:
    add_dag(store, chain_dag(catchup=False), paused=True, next_dagrun=START)

    result = ok(sluice("dags", "unpause", "etl"))

    assert result.stderr == ""


def test_list_runs_newest_first_with_a_state_filter(store: Store, sluice: Sluice) -> None:
    dag = add_dag(store, chain_dag())
    first = add_run(store, dag, START)
    second = add_run(store, dag, START + timedelta(days=1))
    finish(store, "etl", first)
    move_run(store, "etl", second, "running")

    rows = as_json(sluice("dags", "list-runs", "etl", "-o", "json"))
    succeeded = as_json(sluice("dags", "list-runs", "etl", "--state", "success", "-o", "json"))
    table = ok(sluice("dags", "list-runs", "etl"))
    plain = ok(sluice("dags", "list-runs", "etl", "-o", "plain"))

    assert [(r["run_id"], r["state"]) for r in rows] == [(second, "running"), (first, "success")]
    assert rows[1]["start_date"].endswith("+00:00")
    assert isinstance(rows[1]["duration"], float)
    assert [r["run_id"] for r in succeeded] == [first]
    assert first in table.stdout and "run type" in table.stdout
    assert plain.stdout.splitlines()[0].split("\t")[:3] == [second, "running", "scheduled"]


def test_list_runs_empty_and_bad_state(store: Store, sluice: Sluice) -> None:
    add_dag(store, chain_dag())

    assert ok(sluice("dags", "list-runs", "etl")).stdout == "DAG 'etl' has no runs.\n"
    assert as_json(sluice("dags", "list-runs", "etl", "-o", "json")) == []
    bad = sluice("dags", "list-runs", "etl", "--state", "done")
    assert bad.exit_code == 2
    assert (
        "Invalid value for '--state' / '-s': 'done' is not one of 'queued', 'running',"
        " 'success', 'failed'"
    ) in bad.stderr


def test_dag_state_shows_the_run_and_its_task_states(store: Store, sluice: Sluice) -> None:
    dag = add_dag(store, chain_dag())
    run_id = add_run(store, dag, START)
    move_run(store, "etl", run_id, "running")
    move_ti(store, "etl", run_id, "extract", "success")
    move_ti(store, "etl", run_id, "transform", "running")

    data = as_json(sluice("dags", "state", "etl", run_id, "-o", "json"))
    table = ok(sluice("dags", "state", "etl", run_id))

    assert data["state"] == "running"
    assert data["task_states"] == {"success": 1, "running": 1, "none": 1}
    assert data["conf"] == {}
    assert "running" in table.stdout and run_id in table.stdout


def test_dag_state_of_an_unknown_run(store: Store, sluice: Sluice) -> None:
    dag = add_dag(store, chain_dag())
    add_run(store, dag, START)

    result = sluice("dags", "state", "etl", "scheduled__2024-01-01")

    assert error_line(result) == (
        "Error: Run 'scheduled__2024-01-01' not found in DAG 'etl'. Did you mean:"
        " 'scheduled__2024-01-01T00:00:00+00:00'?"
    )


def _count(store: Store, table: type) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_delete_removes_the_dag_and_its_history_but_keeps_others(
    store: Store, sluice: Sluice, tmp_path: Path
) -> None:
    dag_file = tmp_path / "etl.py"
    dag_file.write_text("# the DAG file\n")
    dag = add_dag(store, chain_dag(), fileloc=str(dag_file))
    other = add_dag(store, chain_dag("other"))
    finish(store, "etl", add_run(store, dag, START))
    add_run(store, other, START)

    refused = sluice("dags", "delete", "etl")
    assert error_line(refused) == (
        "Error: deleting DAG 'etl' removes all its runs and history; add --yes to do it"
    )
    assert _count(store, DagRun) == 2

    result = ok(sluice("dags", "delete", "etl", "--yes"))

    assert result.stdout == "DAG 'etl' deleted, with 1 runs and 3 task instances.\n"
    assert f"Its file {dag_file} is still there" in result.stderr
    assert (_count(store, Dag), _count(store, SerializedDagRow)) == (1, 1)
    assert (_count(store, DagRun), _count(store, TaskInstance)) == (1, 3)
    assert _count(store, AuditLog) == 1  # the deletion itself, kept


def test_delete_refuses_while_a_task_runs(store: Store, sluice: Sluice) -> None:
    dag = add_dag(store, chain_dag(), fileloc="/nowhere/etl.py")
    run_id = add_run(store, dag, START)
    move_ti(store, "etl", run_id, "extract", "running")

    result = sluice("dags", "delete", "etl", "--yes")

    assert error_line(result) == (
        "Error: DAG 'etl' has running task instances (such as 'extract'); wait for them to"
        " finish, or mark them failed, before deleting it"
    )
    assert _count(store, DagRun) == 1


@pytest.mark.parametrize("command", [["list-runs"], ["delete", "--yes"], ["unpause"]])
def test_unknown_dag_everywhere(store: Store, sluice: Sluice, command: list[str]) -> None:
    add_dag(store, chain_dag())

    result = sluice("dags", command[0], "nope", *command[1:])

    assert error_line(result).startswith("Error: DAG 'nope' not found in the database.")
