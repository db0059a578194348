"""`sluice dags trigger`: manual runs checked against the DAG's params and its other runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select
from tests.cli_db.conftest import Sluice
from tests.cli_db.helpers import add_dag, as_json, audit_events, chain_dag, error_line, ok

from sluice import Param
from sluice.store.engine import Store
from sluice.store.tables import DagRun, SerializedDagRow, TaskInstance


def _runs(store: Store) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(DagRun)) or 0)


def test_trigger_creates_a_queued_manual_run_with_its_instances(
    store: Store, sluice: Sluice
) -> None:
    add_dag(store, chain_dag(params={"limit": Param(10, type="integer")}))

    data = as_json(
        sluice(
            "dags", "trigger", "etl", "--conf", '{"limit": 3}',
            "--logical-date", "2024-03-15T06:00:00+02:00", "-o", "json",
        )
    )  # fmt: skip

    assert data["run_id"] == "manual__2024-03-15T04:00:00+00:00"
    assert data["logical_date"] == "2024-03-15T04:00:00+00:00"
    # A daily schedule's manual run covers the day that ended before it.
    assert data["data_interval_start"] == "2024-03-14T00:00:00+00:00"
    assert data["data_interval_end"] == "2024-03-15T00:00:00+00:00"
    assert (data["state"], data["run_type"], data["conf"]) == ("queued", "manual", {"limit": 3})
    with store.transaction() as session:
        tasks = session.scalars(select(TaskInstance.task_id).order_by(TaskInstance.task_id))
        assert list(tasks) == ["extract", "load", "transform"]
    assert audit_events(store) == [("cli_dags_trigger", "etl")]


def test_trigger_defaults_to_now_and_reads_naive_dates_in_the_default_timezone(
    store: Store, sluice: Sluice
) -> None:
    add_dag(store, chain_dag(schedule=None))
    before = datetime.now(UTC)

    now_run = as_json(sluice("dags", "trigger", "etl", "-o", "json"))
    paris = as_json(
        sluice(
            "dags", "trigger", "etl", "-l", "2024-07-01T12:00", "-o", "json",
            env={"SLUICE__CORE__DEFAULT_TIMEZONE": "Europe/Paris"},
        )
    )  # fmt: skip

    assert datetime.fromisoformat(now_run["logical_date"]) >= before
    assert now_run["run_id"].startswith("manual__")
    assert paris["logical_date"] == "2024-07-01T10:00:00+00:00"
    # schedule=None: the interval is the logical date itself.
    assert paris["data_interval_start"] == paris["data_interval_end"] == paris["logical_date"]


def test_trigger_with_a_run_id_and_table_output(store: Store, sluice: Sluice) -> None:
    add_dag(store, chain_dag())

    result = ok(sluice("dags", "trigger", "etl", "--run-id", "my-run.1", "-l", "2024-02-01"))

    assert "my-run.1" in result.stdout and "queued" in result.stdout
    plain = ok(sluice("dags", "state", "etl", "my-run.1", "-o", "plain"))
    assert plain.stdout == "queued\n"


def test_trigger_on_a_paused_dag_warns_that_the_run_waits(store: Store, sluice: Sluice) -> None:
    add_dag(store, chain_dag(), paused=True)

    result = ok(sluice("dags", "trigger", "etl", "-o", "json"))

    assert "DAG 'etl' is paused: the run waits in the queue" in result.stderr


def test_trigger_refuses_a_duplicate_run_id_or_logical_date(store: Store, sluice: Sluice) -> None:
    add_dag(store, chain_dag())
    ok(sluice("dags", "trigger", "etl", "-r", "first", "-l", "2024-02-01"))

    same_id = sluice("dags", "trigger", "etl", "-r", "first", "-l", "2024-02-02")
    same_date = sluice("dags", "trigger", "etl", "-r", "second", "-l", "2024-02-01T00:00:00Z")

    assert error_line(same_id) == (
        "Error: DAG 'etl' already has a run with run id 'first' (queued); give another run id"
    )
    assert error_line(same_date).startswith(
        "Error: DAG 'etl' already has a run at logical date 2024-02-01T00:00:00+00:00:"
        " 'first' (queued); give another logical date"
    )
    assert _runs(store) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--conf", '{"limit": "many"}'],
            "Error: conf does not fit the params of DAG 'etl': param 'limit': 'many' is not"
            " of type integer",
        ),
        (
            ["--run-id", "has space"],
            "Error: run id 'has space' may hold only letters, digits and _ . ~ : + - (and not"
            " be empty)",
        ),
        (["--run-id", "x" * 251], "Error: run id is 251 characters long; at most 250 are allowed"),
    ],
)
def test_trigger_refuses_bad_input_and_creates_nothing(
    store: Store, sluice: Sluice, args: list[str], message: str
) -> None:
    add_dag(store, chain_dag(params={"limit": Param(10, type="integer")}))

    result = sluice("dags", "trigger", "etl", *args)

    assert error_line(result) == message
    assert _runs(store) == 0
    assert audit_events(store) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--conf", "[1]"], "Invalid value for '--conf' / '-c': must be a JSON object"),
        (["--conf", "{oops"], "Invalid value for '--conf' / '-c': not valid JSON"),
        (["-l", "yesterday"], "'yesterday' is not an ISO-8601 date or datetime"),
    ],
)
def test_trigger_usage_errors(store: Store, sluice: Sluice, args: list[str], message: str) -> None:
    add_dag(store, chain_dag())

    result = sluice("dags", "trigger", "etl", *args)

    assert result.exit_code == 2
    assert message in result.stderr
    assert _runs(store) == 0


def test_unknown_dag_suggests_close_ids(store: Store, sluice: Sluice) -> None:
    add_dag(store, chain_dag())

    result = sluice("dags", "trigger", "elt")

    assert error_line(result) == "Error: DAG 'elt' not found in the database. Did you mean: 'etl'?"


def test_an_empty_database_says_how_dags_get_there(store: Store, sluice: Sluice) -> None:
    result = sluice("dags", "trigger", "etl")

    assert error_line(result) == (
        "Error: DAG 'etl' not found: the database holds no DAGs yet. The DAG processor stores"
        " them there: run `sluice dag-processor --once` or `sluice standalone`"
    )


def test_a_dag_without_its_serialized_form(store: Store, sluice: Sluice) -> None:
    add_dag(store, chain_dag())
    with store.transaction() as session:
        session.execute(delete(SerializedDagRow))

    result = sluice("dags", "trigger", "etl")

    assert error_line(result) == (
        "Error: DAG 'etl' has no serialized form in the database (its file failed to"
        " import?); see `sluice dags list-import-errors`"
    )
    assert _runs(store) == 0


def test_an_unmigrated_database_is_refused(tmp_path: object, sluice: Sluice) -> None:
    result = sluice(
        "dags", "trigger", "etl",
        env={"SLUICE__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/empty.db"},
    )  # fmt: skip

    assert "sluice db migrate" in error_line(result)
