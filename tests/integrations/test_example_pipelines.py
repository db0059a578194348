"""The example pipelines of sluice/example_dags run for real: the ELT on each warehouse
database and on a local folder and moto's S3, its report waiting on it across schedules
through the task runner, and the HTTP CSV full refresh against a local HTTP server."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.cli_db.helpers import move_run
from tests.integrations.conftest import SqlConn
from tests.integrations.dagruns.helpers import scheduled_run
from tests.integrations.storage.conftest import fs_connection, s3_connection
from tests.runner.conftest import Stored
from tests.test_example_dags import EXAMPLES, load_dag

import sluice
from sluice.core.messages import RunnerExit
from sluice.core.states import DagRunState, TaskInstanceState
from sluice.core.xcom_codec import decode_xcom
from sluice.integrations.lookup import connection_env_name
from sluice.integrations.sql import SqlHook
from sluice.runner.local_run import LocalDagRun
from sluice.store.tables import CheckResult, XCom

DAY = datetime(2024, 3, 1, tzinfo=UTC)
SUCCESS = TaskInstanceState.SUCCESS


def sqlite_uri(path: Path) -> str:
    return "sqlite://" + str(path).replace("/", "%2F")


@pytest.fixture(params=["local", "s3"])
def elt_connections(
    request: pytest.FixtureRequest,
    sql_conn: SqlConn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> SqlConn:
    """The ELT's connections: a SQLite source, the warehouse on ``sql_conn``'s backend and
    the lake in a local folder or on moto's S3 server."""
    if request.param == "s3":
        lake = s3_connection(request.getfixturevalue("moto_endpoint"))
    else:
        (tmp_path / "lake").mkdir()
        lake = fs_connection(tmp_path / "lake")
    monkeypatch.setenv(connection_env_name("elt_source"), sqlite_uri(tmp_path / "shop.db"))
    monkeypatch.setenv(connection_env_name("elt_warehouse"), sql_conn.uri)
    monkeypatch.setenv(connection_env_name("elt_lake"), lake)
    return sql_conn


def run_elt(day: datetime) -> dict[str, TaskInstanceState]:
    local = LocalDagRun(load_dag("example_elt"), logical_date=day, wait_for_retries=False)
    result = local.execute()
    return {r.task_id: r.state for r in result.instances}


def test_the_elt_loads_each_day_checks_it_and_is_idempotent(elt_connections: SqlConn) -> None:
    states = run_elt(DAY)
    assert set(states.values()) == {SUCCESS}, states
    warehouse = SqlHook("elt_warehouse")
    source = SqlHook("elt_source")
    day_one = warehouse.get_records(
        "SELECT product, orders, quantity, revenue_cents FROM daily_sales"
        " WHERE day = '2024-03-01' ORDER BY product"
    )
    # The summary adds up to the source's orders of the data interval, and only those. A
    # manual run of a daily DAG at 03-01 covers the day before (as Airflow infers it);
    # its rows are labelled with its ds.
    (orders, revenue) = source.get_first(
        "SELECT COUNT(*), SUM(amount_cents) FROM orders"
        " WHERE updated_at >= '2024-02-29 00:00:00' AND updated_at < '2024-03-01 00:00:00'"
    )
    assert sum(r[1] for r in day_one) == orders
    assert sum(r[3] for r in day_one) == revenue

    # The next day adds its rows; running the first day again changes nothing.
    assert set(run_elt(DAY + timedelta(days=1)).values()) == {SUCCESS}
    assert set(run_elt(DAY).values()) == {SUCCESS}
    again = warehouse.get_records(
        "SELECT product, orders, quantity, revenue_cents FROM daily_sales"
        " WHERE day = '2024-03-01' ORDER BY product"
    )
    assert [tuple(int(v) if not isinstance(v, str) else v for v in r) for r in again] == [
        tuple(int(v) if not isinstance(v, str) else v for v in r) for r in day_one
    ]
    (staged,) = warehouse.get_first(
        "SELECT COUNT(*) FROM staging_orders WHERE load_day = '2024-03-01'"
    )
    assert staged == orders
    (days,) = warehouse.get_first("SELECT COUNT(DISTINCT day) FROM daily_sales")
    assert days == 2


def test_a_failed_check_fails_its_task_and_notifies(
    elt_connections: SqlConn, caplog: pytest.LogCaptureFixture
) -> None:
    assert set(run_elt(DAY).values()) == {SUCCESS}
    # A duplicate order in the day's staging rows (as a buggy load would leave).
    warehouse = SqlHook("elt_warehouse")
    warehouse.run(
        "INSERT INTO staging_orders (order_id, customer, product, quantity, amount_cents,"
        " updated_at, load_day) SELECT order_id, customer, product, quantity, amount_cents,"
        " updated_at, load_day FROM staging_orders WHERE load_day = '2024-03-01'"
        " AND order_id = (SELECT MIN(order_id) FROM staging_orders)"
    )
    local = LocalDagRun(load_dag("example_elt"), logical_date=DAY, wait_for_retries=False)
    with caplog.at_level("WARNING", logger="sluice.task"):
        (orders,) = local.test_task("check_orders")
        (counts,) = local.test_task("check_rows_in_equal_rows_out")
    # Retries are left: as `tasks test`, the failed try stays up_for_retry.
    assert orders.state == TaskInstanceState.UP_FOR_RETRY
    assert orders.error is not None and "unique_check" in orders.error
    assert counts.state == TaskInstanceState.UP_FOR_RETRY
    assert "ALERT" not in caplog.text  # a retry is not a failure
    (final,) = local.test_task("check_orders")
    assert final.state == TaskInstanceState.FAILED
    assert "ALERT: example_elt: check_orders failed for 2024-03-01" in caplog.text


def test_the_report_waits_for_the_elt_half_an_hour_earlier(
    stored: Stored, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lake").mkdir()
    monkeypatch.setenv(connection_env_name("elt_source"), sqlite_uri(tmp_path / "shop.db"))
    monkeypatch.setenv(connection_env_name("elt_warehouse"), sqlite_uri(tmp_path / "dwh.db"))
    monkeypatch.setenv(connection_env_name("elt_lake"), fs_connection(tmp_path / "lake"))
    for name in ("example_elt", "example_elt_report"):
        source = (EXAMPLES / f"{name}.py").read_text()
        # Written after the runner's header of imports, which a __future__ import may not follow.
        stored.write(f"{name}.py", source.replace("from __future__ import annotations\n", ""))
    elt = scheduled_run(stored, "example_elt", DAY)
    report = scheduled_run(stored, "example_elt_report", DAY + timedelta(minutes=30))

    # The ELT run has not finished: the sensor gives its slot back and waits.
    assert stored.run("example_elt_report", report, "wait_for_elt") == RunnerExit.OUTCOME_WRITTEN
    waiting = stored.ti("example_elt_report", report, "wait_for_elt")
    assert waiting.state == TaskInstanceState.UP_FOR_RESCHEDULE

    move_run(stored.store, "example_elt", elt, DagRunState.RUNNING.value)
    for task in load_dag("example_elt").topological_sort():
        assert stored.run("example_elt", elt, task.task_id) == RunnerExit.OUTCOME_WRITTEN
        assert stored.ti("example_elt", elt, task.task_id).state == SUCCESS, task.task_id
    move_run(stored.store, "example_elt", elt, DagRunState.SUCCESS.value)

    assert stored.run("example_elt_report", report, "wait_for_elt") == RunnerExit.OUTCOME_WRITTEN
    assert stored.ti("example_elt_report", report, "wait_for_elt").state == SUCCESS
    assert stored.run("example_elt_report", report, "top_products") == RunnerExit.OUTCOME_WRITTEN
    with stored.store.transaction() as session:
        rows = decode_xcom(session.scalar(select(XCom.value).where(XCom.task_id == "top_products")))
        checks = session.execute(
            select(CheckResult.check_name, CheckResult.table_name, CheckResult.passed).where(
                CheckResult.run_id == elt
            )
        ).all()
    assert rows and {r[0] for r in rows} <= {"kettle", "teapot", "mug", "grinder", "beans"}
    # Each check's outcome is kept with the run, for the /checks pages.
    assert {(name, table) for name, table, _ in checks} >= {
        ("unique_check", "staging_orders"),
        ("row_count_check", "daily_sales"),
    }
    assert all(passed for _, _, passed in checks)


@pytest.fixture
def rates_server() -> Iterator[str]:
    """A local HTTP server serving the web UI's static folder, as the web server does."""
    folder = Path(sluice.__file__).parent / "web"
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": server.server_address[1]}
        )
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_http_csv_refresh_replaces_the_table_whole(
    sql_conn: SqlConn, rates_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(connection_env_name("example_rates_http"), rates_server)
    monkeypatch.setenv(connection_env_name("elt_warehouse"), sql_conn.uri)
    dag = load_dag("example_http_csv")
    for day in (DAY, DAY + timedelta(days=1), DAY + timedelta(days=1)):
        result = LocalDagRun(dag, logical_date=day, wait_for_retries=False).execute()
        assert {r.state for r in result.instances} == {SUCCESS}
        rows = SqlHook("elt_warehouse").get_records(
            "SELECT currency, loaded_for FROM exchange_rates ORDER BY currency"
        )
        assert len(rows) == 12
        assert {loaded for _, loaded in rows} == {day.date().isoformat()}
