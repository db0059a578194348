"""`sluice dags backfill` writes a request the scheduler carries out; `sluice backfills`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
    ok,
    run_state,
)

from sluice.parsing.serialized import SerializedDag
from sluice.store import backfills
from sluice.store.engine import Store
from sluice.store.tables import Backfill, DagRun

RANGE = ["--start-date", "2024-01-01", "--end-date", "2024-01-05"]


def _backfills(store: Store) -> list[Backfill]:
    with store.transaction() as session:
        return list(session.scalars(select(Backfill).order_by(Backfill.id)))


def _with_history(store: Store) -> SerializedDag:
    dag = add_dag(store, chain_dag())
    finish(store, "etl", add_run(store, dag, START + timedelta(days=1)), "success")
    finish(store, "etl", add_run(store, dag, START + timedelta(days=2)), "failed")
    move_run(store, "etl", add_run(store, dag, START + timedelta(days=3)), "running")
    return dag


def test_dry_run_lists_the_runs_and_changes_nothing(store: Store, sluice: Sluice) -> None:
    _with_history(store)

    rows = as_json(sluice("dags", "backfill", "etl", *RANGE, "--dry-run", "-o", "json"))
    reset = as_json(
        sluice("dags", "backfill", "etl", *RANGE, "--dry-run", "--reset-dagruns", "-o", "json")
    )
    failed_only = as_json(
        sluice("dags", "backfill", "etl", *RANGE, "--dry-run", "--rerun-failed-tasks", "-o", "json")
    )
    table = ok(sluice("dags", "backfill", "etl", *RANGE, "--dry-run"))

    assert [(r["logical_date"][:10], r["existing_state"], r["action"]) for r in rows] == [
        ("2024-01-01", None, "create"),
        ("2024-01-02", "success", "skip: exists"),
        ("2024-01-03", "failed", "skip: exists"),
        ("2024-01-04", "running", "skip: queued or running"),
        ("2024-01-05", None, "create"),
    ]
    assert rows[0]["data_interval_start"] == "2024-01-01T00:00:00+00:00"
    assert rows[0]["data_interval_end"] == "2024-01-02T00:00:00+00:00"
    assert rows[1]["existing_run_id"] == "scheduled__2024-01-02T00:00:00+00:00"
    assert [r["action"] for r in reset][1:4] == [
        "clear and run again",
        "clear and run again",
        "skip: queued or running",
    ]
    assert [r["action"] for r in failed_only][1:3] == ["skip: exists", "rerun failed tasks"]
    assert "Dry run: 2 of 5 runs would be created or rerun." in table.stderr
    assert "2024-01-05T00:00:00+00:00" in table.stdout
    assert _backfills(store) == []
    assert audit_events(store) == []


def test_backfill_detached_writes_the_request(store: Store, sluice: Sluice) -> None:
    _with_history(store)

    result = ok(
        sluice(
            "dags", "backfill", "etl", *RANGE, "--detach", "--max-active-runs", "2",
            "--reset-dagruns", "--conf", '{"source": "archive"}',
        )
    )  # fmt: skip

    assert result.stdout.splitlines()[0].endswith(
        "runs, logical dates 2024-01-01T00:00:00+00:00 to 2024-01-05T00:00:00+00:00, at most 2"
        " at a time (1 already there, skipped)."
    )
    [request] = _backfills(store)
    assert (request.dag_id, request.state, request.max_active_runs) == ("etl", "running", 2)
    assert (request.from_date, request.to_date) == (START, START + timedelta(days=4))
    assert request.reset_dagruns and not request.rerun_failed_tasks
    assert request.conf == '{"source": "archive"}'
    assert audit_events(store) == [("cli_dags_backfill", "etl")]
    # No run is created by the command: the scheduler does that.
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(DagRun)) == 3


def test_a_second_backfill_of_the_same_dag_is_refused(store: Store, sluice: Sluice) -> None:
    add_dag(store, chain_dag())
    ok(sluice("dags", "backfill", "etl", *RANGE, "--detach"))

    result = sluice("dags", "backfill", "etl", *RANGE, "--detach")

    first = _backfills(store)[0].id
    assert error_line(result) == (
        f"Error: DAG 'etl' already has backfill {first} (running); a DAG has one backfill at a"
        f" time: cancel it with `sluice backfills cancel {first}` or wait for it to complete"
    )
    assert len(_backfills(store)) == 1


def test_nothing_to_backfill_when_every_run_exists(store: Store, sluice: Sluice) -> None:
    dag = add_dag(store, chain_dag())
    finish(store, "etl", add_run(store, dag, START))

    result = ok(sluice("dags", "backfill", "etl", "--start-date", "2024-01-01",
                       "--end-date", "2024-01-01"))  # fmt: skip

    assert result.stdout.startswith("Nothing to backfill: DAG 'etl' already has all 1 runs")
    assert _backfills(store) == []


def test_many_runs_need_yes(store: Store, sluice: Sluice) -> None:
    add_dag(store, chain_dag())
    year = ["--start-date", "2024-01-01", "--end-date", "2024-12-31", "--detach"]

    refused = sluice("dags", "backfill", "etl", *year)

    assert error_line(refused) == (
        "Error: the backfill runs DAG 'etl' 366 times, logical dates 2024-01-01T00:00:00+00:00"
        " to 2024-12-31T00:00:00+00:00: more than [scheduler] catchup_confirm_threshold (50)."
        " Check with --dry-run, then add --yes"
    )
    assert _backfills(store) == []
    ok(sluice("dags", "backfill", "etl", *year, "--yes"))
    assert len(_backfills(store)) == 1


def _soon() -> str:
    return (datetime.now(UTC) + timedelta(days=2)).date().isoformat()


@pytest.mark.parametrize(
    ("dag_kwargs", "args", "message"),
    [
        (
            {},
            ["--start-date", "2024-01-05", "--end-date", "2024-01-01"],
            "Error: --end-date 2024-01-01T00:00:00+00:00 is before --start-date"
            " 2024-01-05T00:00:00+00:00",
        ),
        (
            {},
            ["--start-date", "2023-12-01", "--end-date", "2024-01-05"],
            "Error: --start-date 2023-12-01T00:00:00+00:00 is before the start_date of DAG"
            " 'etl', 2024-01-01T00:00:00+00:00",
        ),
        (
            {"end_date": datetime(2024, 1, 3, tzinfo=UTC)},
            RANGE,
            "Error: --end-date 2024-01-05T00:00:00+00:00 is after the end_date of DAG 'etl',"
            " 2024-01-03T00:00:00+00:00",
        ),
        (
            {"schedule": None},
            RANGE,
            "Error: DAG 'etl' has schedule None, which has no intervals to backfill; a backfill"
            " needs a cron, preset or timedelta schedule (trigger runs with `sluice dags"
            " trigger` instead)",
        ),
        (
            {"schedule": "@monthly"},
            ["--start-date", "2024-01-02", "--end-date", "2024-01-20"],
            "Error: DAG 'etl' (@monthly) has no interval with a logical date from"
            " 2024-01-02T00:00:00+00:00 to 2024-01-20T00:00:00+00:00 that has already ended",
        ),
        (
            {},
            ["--start-date", "2024-01-01", "--end-date", "2024-01-02", "--conf", '{"x": 1}'],
            None,  # conf keys that are not params are kept, as Airflow does: accepted
        ),
    ],
)
def test_bad_ranges_are_refused(
    store: Store, sluice: Sluice, dag_kwargs: dict[str, Any], args: list[str], message: str | None
) -> None:
    add_dag(store, chain_dag(**dag_kwargs))

    result = sluice("dags", "backfill", "etl", *args, "--detach")

    if message is None:
        ok(result)
        return
    assert error_line(result) == message
    assert _backfills(store) == []


def test_a_start_date_in_the_future_is_refused(store: Store, sluice: Sluice) -> None:
    add_dag(store, chain_dag())

    result = sluice("dags", "backfill", "etl", "--start-date", _soon(), "--end-date", _soon())

    assert error_line(result).endswith(
        "is in the future; a backfill runs intervals that have already ended"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start-date", "soon", "--end-date", "2024-01-02"], "'soon' is not an ISO-8601 date"),
        (["--start-date", "2024-01-01"], "Missing option '--end-date'"),
        ([*RANGE, "--max-active-runs", "0"], "0 is not in the range x>=1"),
        ([*RANGE, "--conf", "3"], "must be a JSON object"),
    ],
)
def test_backfill_usage_errors(store: Store, sluice: Sluice, args: list[str], message: str) -> None:
    add_dag(store, chain_dag())

    result = sluice("dags", "backfill", "etl", *args)

    assert result.exit_code == 2
    assert message in result.stderr
    assert _backfills(store) == []


def _fake_scheduler(store: Store, dag: SerializedDag, days: int, fail_last: bool) -> None:
    """What the scheduler does for a backfill, sped up: runs created, finished, completed."""
    deadline = time.monotonic() + 30
    while not _backfills(store) and time.monotonic() < deadline:
        time.sleep(0.05)
    backfill_id = _backfills(store)[0].id
    for day in range(days):
        run_id = add_run(
            store, dag, START + timedelta(days=day), run_type="backfill", backfill_id=backfill_id
        )
        state = "failed" if fail_last and day == days - 1 else "success"
        finish(store, "etl", run_id, state)
    with store.transaction() as session:
        assert backfills.complete_backfill(session, backfill_id)


@pytest.mark.parametrize("fail_last", [False, True])
def test_backfill_follows_progress_until_complete(
    store: Store, sluice: Sluice, fail_last: bool
) -> None:
    dag = add_dag(store, chain_dag())
    worker = threading.Thread(target=_fake_scheduler, args=(store, dag, 3, fail_last))
    worker.start()

    result = sluice("dags", "backfill", "etl", "--start-date", "2024-01-01",
                    "--end-date", "2024-01-03")  # fmt: skip
    worker.join()

    assert "The scheduler carries the backfill out" in result.stderr
    if fail_last:
        assert result.exit_code == 1
        assert result.stdout.endswith("completed: 1 failed, 2 success.\n")
    else:
        assert result.exit_code == 0, result.output
        assert result.stdout.endswith("completed: 3 success.\n")
    assert "3/3" in result.stderr  # the progress bar's last state


def test_ctrl_c_stops_following_and_the_backfill_goes_on(
    store: Store, db_env: dict[str, str]
) -> None:
    add_dag(store, chain_dag())
    command = [str(Path(sys.executable).with_name("sluice")), "dags", "backfill", "etl", *RANGE]
    process = subprocess.Popen(
        command,
        env={**os.environ, **db_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not _backfills(store) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # into the polling loop

    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)

    [request] = _backfills(store)
    assert process.returncode == 0, err
    assert f"Stopped following backfill {request.id}; it goes on" in err
    assert out.startswith(f"Backfill {request.id} of DAG 'etl': 5 runs")
    assert request.state == "running"


def test_backfills_list_pause_unpause_cancel(store: Store, sluice: Sluice) -> None:
    dag = add_dag(store, chain_dag())
    add_dag(store, chain_dag("other"))
    ok(sluice("dags", "backfill", "etl", *RANGE, "--detach"))
    ok(sluice("dags", "backfill", "other", *RANGE, "--detach"))
    first = _backfills(store)[0].id
    queued = add_run(store, dag, START, run_type="backfill", backfill_id=first)
    running = add_run(store, dag, START + timedelta(days=1), run_type="backfill", backfill_id=first)
    move_run(store, "etl", running, "running")

    listed = as_json(sluice("backfills", "list", "-o", "json"))
    mine = as_json(sluice("backfills", "list", "--dag-id", "etl", "-o", "json"))
    table = ok(sluice("backfills", "list"))

    assert [b["dag_id"] for b in listed] == ["other", "etl"]
    assert [b["id"] for b in mine] == [first]
    assert mine[0]["run_states"] == {"queued": 1, "running": 1}
    assert mine[0]["from_date"] == "2024-01-01T00:00:00+00:00"
    assert "1 queued, 1 running" in table.stdout

    assert ok(sluice("backfills", "pause", str(first))).stdout == (
        f"Backfill {first} of DAG 'etl' paused.\n"
    )
    assert error_line(sluice("backfills", "pause", str(first))) == (
        f"Error: backfill {first} is paused; only a running backfill can be paused"
    )
    ok(sluice("backfills", "unpause", str(first)))
    assert error_line(sluice("backfills", "unpause", str(first))) == (
        f"Error: backfill {first} is running; only a paused backfill can be unpaused"
    )
    cancelled = ok(sluice("backfills", "cancel", str(first)))
    assert cancelled.stdout == (
        f"1 queued runs of backfill {first} failed.\nBackfill {first} of DAG 'etl' cancelled.\n"
    )
    assert (run_state(store, "etl", queued), run_state(store, "etl", running)) == (
        "failed",
        "running",
    )
    assert error_line(sluice("backfills", "cancel", str(first))) == (
        f"Error: backfill {first} is cancelled; only a running or paused backfill can be cancelled"
    )
    # Once cancelled, the DAG may be backfilled again.
    ok(sluice("dags", "backfill", "etl", *RANGE, "--detach"))
    events = [event for event, _ in audit_events(store)]
    assert events.count("cli_backfills_pause") == 1
    assert events.count("cli_backfills_cancel") == 1


def test_backfills_bad_ids(store: Store, sluice: Sluice) -> None:
    add_dag(store, chain_dag())

    assert error_line(sluice("backfills", "cancel", "99")) == (
        "Error: Backfill 99 not found; there are none"
    )
    not_int = sluice("backfills", "pause", "first")
    assert not_int.exit_code == 2
    assert "'first' is not a valid integer" in not_int.stderr
    assert error_line(sluice("backfills", "list", "--dag-id", "nope")).startswith(
        "Error: DAG 'nope' not found in the database."
    )
    assert ok(sluice("backfills", "list")).stdout == "No backfills.\n"
