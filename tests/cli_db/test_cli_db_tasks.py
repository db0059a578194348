"""`sluice tasks states-for-dag-run/state/clear/failed-deps` on the metadata database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
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
    run_state,
    ti_states,
)

from sluice import DAG
from sluice.operators import EmptyOperator
from sluice.store.engine import Store
from sluice.store.tables import Pool, TaskInstance


def test_states_for_dag_run(store: Store, sluice: Sluice) -> None:
    dag = add_dag(store, chain_dag())
    run_id = add_run(store, dag, START)
    move_ti(store, "etl", run_id, "extract", "success")
    move_ti(store, "etl", run_id, "transform", "running")

    rows = as_json(sluice("tasks", "states-for-dag-run", "etl", run_id, "-o", "json"))
    table = ok(sluice("tasks", "states-for-dag-run", "etl", run_id))

    assert [(r["task_id"], r["state"], r["try_number"]) for r in rows] == [
        ("extract", "success", 1),
        ("load", "none", 0),
        ("transform", "running", 1),
    ]
    assert rows[0]["start_date"].endswith("+00:00") and isinstance(rows[0]["duration"], float)
    assert "transform" in table.stdout and "running" in table.stdout


def test_task_state(store: Store, sluice: Sluice) -> None:
    dag = add_dag(store, chain_dag())
    run_id = add_run(store, dag, START)
    move_ti(store, "etl", run_id, "extract", "failed")

    assert ok(sluice("tasks", "state", "etl", "extract", run_id, "-o", "plain")).stdout == (
        "failed\n"
    )
    data = as_json(sluice("tasks", "state", "etl", "extract", run_id, "-o", "json"))
    assert (data["state"], data["hostname"], data["map_index"]) == ("failed", "worker-1", -1)
    assert "failed" in ok(sluice("tasks", "state", "etl", "extract", run_id)).stdout
    assert error_line(sluice("tasks", "state", "etl", "extrct", run_id)) == (
        f"Error: Task 'extrct' not found in run '{run_id}' of DAG 'etl'. Did you mean: 'extract'?"
    )
    assert error_line(sluice("tasks", "state", "etl", "extract", run_id, "-m", "2")) == (
        f"Error: Task 'extract' has no map index 2 in run '{run_id}' of DAG 'etl'; its map"
        " indexes are -1"
    )
    bad_index = sluice("tasks", "state", "etl", "extract", run_id, "-m", "x")
    assert bad_index.exit_code == 2
    assert error_line(sluice("tasks", "state", "etl", "extract", "nope")).startswith(
        "Error: Run 'nope' not found in DAG 'etl'."
    )


def _two_runs(store: Store) -> tuple[str, str]:
    dag = add_dag(store, chain_dag(retries=2))
    first = add_run(store, dag, START)
    second = add_run(store, dag, START + timedelta(days=1))
    finish(store, "etl", first, "success")
    move_run(store, "etl", second, "running")
    move_ti(store, "etl", second, "extract", "success")
    move_ti(store, "etl", second, "transform", "failed")
    move_ti(store, "etl", second, "load", "upstream_failed")
    return first, second


def test_clear_lists_then_needs_yes(store: Store, sluice: Sluice) -> None:
    first, _ = _two_runs(store)

    dry = ok(sluice("tasks", "clear", "etl", "--dry-run"))
    refused = sluice("tasks", "clear", "etl", "-o", "json")

    assert "Dry run: 6 task instances would be cleared." in dry.stderr
    assert refused.exit_code == 1
    assert refused.stderr == "Error: add --yes to clear these 6 task instances of DAG 'etl'\n"
    assert len(json.loads(refused.stdout)) == 6
    assert ti_states(store, "etl", first) == dict.fromkeys(
        ["extract", "transform", "load"], "success"
    )
    assert audit_events(store) == []


def test_clear_everything_requeues_the_finished_run(store: Store, sluice: Sluice) -> None:
    first, second = _two_runs(store)

    result = ok(sluice("tasks", "clear", "etl", "--yes"))

    assert result.stdout.endswith("Cleared 6 task instances; 1 finished runs are queued again.\n")
    assert set(ti_states(store, "etl", first).values()) == {None}
    assert set(ti_states(store, "etl", second).values()) == {None}
    assert run_state(store, "etl", first) == "queued"
    assert run_state(store, "etl", second) == "running"
    with store.transaction() as session:
        ti = session.scalars(
            select(TaskInstance).where(
                TaskInstance.run_id == first, TaskInstance.task_id == "extract"
            )
        ).one()
        # Cleared with its retries renewed: one try made, two retries again.
        assert (ti.try_number, ti.max_tries) == (1, 3)
    assert audit_events(store) == [("cli_tasks_clear", "etl")]


def test_clear_only_failed_with_a_regex_and_downstream(store: Store, sluice: Sluice) -> None:
    first, second = _two_runs(store)

    rows = as_json(sluice("tasks", "clear", "etl", "-f", "-o", "json", "--dry-run"))
    ok(sluice("tasks", "clear", "etl", "-t", "^trans", "--downstream", "--yes"))

    assert [(r["run_id"], r["task_id"]) for r in rows] == [(second, "load"), (second, "transform")]
    assert ti_states(store, "etl", second) == {
        "extract": "success",
        "transform": None,
        "load": None,
    }
    # Without a date range, the first (successful) run is cleared too and queued again.
    assert ti_states(store, "etl", first) == {
        "extract": "success",
        "transform": None,
        "load": None,
    }
    assert run_state(store, "etl", first) == "queued"


def test_clear_upstream_and_date_range(store: Store, sluice: Sluice) -> None:
    _, second = _two_runs(store)

    rows = as_json(
        sluice(
            "tasks", "clear", "etl", "-t", "transform", "-u", "-s", "2024-01-02",
            "-e", "2024-01-02T23:00", "--dry-run", "-o", "json",
        )
    )  # fmt: skip

    assert [(r["run_id"], r["task_id"]) for r in rows] == [
        (second, "extract"),
        (second, "transform"),
    ]


def test_clear_leaves_running_instances_alone(store: Store, sluice: Sluice) -> None:
    dag = add_dag(store, chain_dag())
    run_id = add_run(store, dag, START)
    move_run(store, "etl", run_id, "running")
    move_ti(store, "etl", run_id, "extract", "running")

    result = ok(sluice("tasks", "clear", "etl", "--yes"))

    assert result.stdout == "Nothing to clear.\n"
    assert "1 running task instances are left alone" in result.stderr
    assert ti_states(store, "etl", run_id)["extract"] == "running"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-t", "(unclosed"],
            "Error: task regex '(unclosed' is not a regular expression: missing ),"
            " unterminated subpattern at position 0",
        ),
        (
            ["-t", "^nothing$"],
            "Error: no task of DAG 'etl' matches '^nothing$'; its tasks are"
            " extract, transform, load",
        ),
        (
            ["-s", "2024-01-05", "-e", "2024-01-01"],
            "Error: end date 2024-01-01T00:00:00+00:00 is before start date"
            " 2024-01-05T00:00:00+00:00",
        ),
    ],
)
def test_clear_bad_input(store: Store, sluice: Sluice, args: list[str], message: str) -> None:
    first, _ = _two_runs(store)

    result = sluice("tasks", "clear", "etl", *args, "--yes")

    assert error_line(result) == message
    assert run_state(store, "etl", first) == "success"


def test_clear_bad_date_is_a_usage_error(store: Store, sluice: Sluice) -> None:
    _two_runs(store)

    result = sluice("tasks", "clear", "etl", "-s", "01/02/2024", "--yes")

    assert result.exit_code == 2
    assert "'01/02/2024' is not an ISO-8601 date or datetime" in result.stderr


def _deps(sluice: Sluice, *args: str) -> dict[str, str]:
    rows = as_json(sluice("tasks", "failed-deps", *args, "-o", "json"))
    return {row["dependency"]: row["reason"] for row in rows}


def test_failed_deps_explains_a_waiting_task(store: Store, sluice: Sluice) -> None:
    dag = add_dag(store, chain_dag(), paused=True)
    run_id = add_run(store, dag, START)

    queued_run = _deps(sluice, "etl", "transform", run_id)
    move_run(store, "etl", run_id, "running")
    move_ti(store, "etl", run_id, "extract", "running")
    waiting = _deps(sluice, "etl", "transform", run_id)

    assert queued_run["DAG paused"] == "DAG 'etl' is paused (`sluice dags unpause etl`)"
    assert queued_run["Run state"] == (
        f"run '{run_id}' is queued, not running: it starts once the DAG is unpaused"
    )
    assert waiting["Trigger rule"] == (
        "trigger rule all_success: waits for its upstream tasks; upstream: extract (running)"
    )
    assert "Run state" not in waiting


def test_failed_deps_upstream_failure_and_retry_delay(store: Store, sluice: Sluice) -> None:
    dag = add_dag(store, chain_dag(retries=1))
    run_id = add_run(store, dag, START)
    move_run(store, "etl", run_id, "running")
    move_ti(store, "etl", run_id, "extract", "failed")
    move_ti(store, "etl", run_id, "transform", "up_for_retry")

    load = _deps(sluice, "etl", "load", run_id)
    transform = _deps(sluice, "etl", "transform", run_id)
    extract = _deps(sluice, "etl", "extract", run_id)

    assert load == {
        "Trigger rule": "trigger rule all_success: waits for its upstream tasks; upstream:"
        " transform (up_for_retry)"
    }
    assert transform["Retry delay"].startswith("up for retry: the next try may start at 20")
    assert extract == {
        "Task state": "the task instance has finished (failed); clear it to run it again"
    }


def test_failed_deps_pool_concurrency_and_past(store: Store, sluice: Sluice) -> None:
    with DAG("lim", start_date=START, schedule="@daily", max_active_tasks=1) as lim:
        EmptyOperator(task_id="a", pool="tiny")
        EmptyOperator(task_id="b", pool="nowhere", depends_on_past=True)
    dag = add_dag(store, lim)
    with store.transaction() as session:
        session.add(Pool(pool="tiny", slots=1))
    earlier = add_run(store, dag, START)
    later = add_run(store, dag, START + timedelta(days=1))
    move_ti(store, "lim", earlier, "b", "failed")
    move_ti(store, "lim", earlier, "a", "running")
    move_run(store, "lim", later, "running")

    a = _deps(sluice, "lim", "a", later)
    b = _deps(sluice, "lim", "b", later)

    assert a["Pool"] == "pool 'tiny' is full: 1 of 1 slots in use, the task needs 1"
    assert a["max_active_tasks"] == (
        "1 task instances of DAG 'lim' are queued or running; its max_active_tasks is 1"
    )
    assert b["depends_on_past"] == (
        f"in the previous run '{earlier}' this task is failed, not success or skipped"
    )
    assert (
        b["Pool"]
        == "pool 'nowhere' does not exist; create it with `sluice pools set nowhere SLOTS`"
    )


def test_failed_deps_max_active_runs(store: Store, sluice: Sluice) -> None:
    dag = add_dag(store, chain_dag(max_active_runs=1))
    running = add_run(store, dag, START)
    waiting = add_run(store, dag, START + timedelta(days=1))
    move_run(store, "etl", running, "running")

    deps = _deps(sluice, "etl", "extract", waiting)

    assert deps == {
        "Run state": f"run '{waiting}' is queued, not running: 1 runs of the DAG are running,"
        " its max_active_runs is 1"
    }


def test_failed_deps_all_met_and_table(store: Store, sluice: Sluice) -> None:
    dag = add_dag(store, chain_dag())
    run_id = add_run(store, dag, START)
    move_run(store, "etl", run_id, "running")

    met = ok(sluice("tasks", "failed-deps", "etl", "extract", run_id))
    table = ok(sluice("tasks", "failed-deps", "etl", "load", run_id))

    assert met.stdout.startswith(f"Every dependency of extract in run '{run_id}' is met")
    assert f"load in run '{run_id}' does not run because:" in table.stdout
    assert as_json(sluice("tasks", "failed-deps", "etl", "extract", run_id, "-o", "json")) == []
    assert error_line(sluice("tasks", "failed-deps", "etl", "nope", run_id)).startswith(
        "Error: Task 'nope' not found in run"
    )
