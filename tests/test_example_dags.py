"""Every example DAG loads, is found by the safe-mode scan, and runs to success."""

from __future__ import annotations

import importlib.util
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import sluice
from sluice.core.errors import ParamValidationError
from sluice.core.states import DagRunState, TaskInstanceState
from sluice.parsing.discover import find_dag_files
from sluice.parsing.importer import example_dags_folder, load_dag_bag
from sluice.runner.local_run import LocalDagRun, RunResult
from sluice.runner.xcom import pull_one
from sluice.sdk.dag import DAG

EXAMPLES = Path(sluice.__file__).parent / "example_dags"
MONDAY = datetime(2024, 1, 1, tzinfo=UTC)
SATURDAY = datetime(2024, 1, 6, tzinfo=UTC)
SUCCESS = TaskInstanceState.SUCCESS
SKIPPED = TaskInstanceState.SKIPPED

EXPECTED_DAG_IDS = {
    "example_bash_operator",
    "example_branch",
    "example_elt",
    "example_elt_report",
    "example_etl",
    "example_http_csv",
    "example_params",
    "example_python_hello",
    "example_task_group",
    "example_taskflow_mapping",
}


def load_dag(dag_id: str) -> DAG:
    """Import ``<dag_id>.py`` from the examples folder under a unique module name."""
    path = EXAMPLES / f"{dag_id}.py"
    spec = importlib.util.spec_from_file_location(f"sluice_test_examples_{dag_id}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dags = {v.dag_id: v for v in vars(module).values() if isinstance(v, DAG)}
    assert list(dags) == [dag_id], f"{path.name} should define exactly the DAG {dag_id}"
    return dags[dag_id]


def run(
    dag_id: str, conf: dict[str, Any] | None = None, logical_date: datetime = MONDAY
) -> tuple[LocalDagRun, RunResult]:
    local = LocalDagRun(
        load_dag(dag_id), logical_date=logical_date, conf=conf, wait_for_retries=False
    )
    return local, local.execute()


def states(result: RunResult) -> dict[str, Any]:
    """State per task id; a mapped task gives the list of its instances' states."""
    out: dict[str, Any] = {}
    for record in sorted(result.instances, key=lambda r: (r.task_id, r.map_index)):
        if record.map_index < 0:
            out[record.task_id] = record.state
        else:
            out.setdefault(record.task_id, []).append(record.state)
    return out


def xcom(local: LocalDagRun, task_id: str, key: str = "return_value") -> Any:
    """A task's XCom value from the run's store; a list in map order for a mapped task."""
    indexes = local.xcom.map_indexes(task_id, key)
    if indexes == [-1]:
        return pull_one(local.xcom, task_id, -1, key)
    return [pull_one(local.xcom, task_id, i, key) for i in indexes]


def test_safe_mode_scan_finds_every_example() -> None:
    found = {p.stem for p in find_dag_files(EXAMPLES, safe_mode=True)}
    assert found == EXPECTED_DAG_IDS


def test_dag_bag_loads_every_example_without_errors() -> None:
    assert example_dags_folder() == EXAMPLES
    bag = load_dag_bag([EXAMPLES])
    assert bag.import_errors == {}
    assert set(bag.dags) == EXPECTED_DAG_IDS


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAG_IDS))
def test_example_loads_and_validates(dag_id: str) -> None:
    dag = load_dag(dag_id)
    dag.validate()
    assert "example" in dag.tags
    assert dag.catchup is False


def test_bash_operator() -> None:
    local, result = run("example_bash_operator", {"sleep_seconds": 0})
    assert result.state is DagRunState.SUCCESS
    assert states(result) == {"print_date": SUCCESS, "sleep": SUCCESS, "print_done": SUCCESS}
    assert xcom(local, "sleep") == "slept 0s"
    assert xcom(local, "print_done") == "done: example_bash_operator.print_done, try 1"


def test_bash_operator_refuses_a_sleep_over_the_maximum() -> None:
    with pytest.raises(ParamValidationError, match="sleep_seconds"):
        run("example_bash_operator", {"sleep_seconds": 61})


def test_python_hello() -> None:
    dag = load_dag("example_python_hello")
    assert dag.schedule == "0 6 * * *"
    local, result = run("example_python_hello")
    assert result.state is DagRunState.SUCCESS
    assert states(result) == {"hello": SUCCESS, "goodbye": SUCCESS}
    hello = xcom(local, "hello")
    assert hello.startswith("hello from 2024-01-01")
    assert xcom(local, "goodbye") == f"goodbye, example_python_hello (hello said: {hello!r})"


def _etl_rows(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with sqlite3.connect(db) as conn:
        orders = conn.execute("SELECT day, COUNT(*), SUM(amount_cents) FROM orders GROUP BY day")
        totals = conn.execute(
            "SELECT day, product, orders, quantity, revenue_cents FROM daily_product_totals "
            "ORDER BY day, product"
        )
        result = orders.fetchall(), totals.fetchall()
    conn.close()
    return result


def test_etl_loads_the_day_and_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "orders.db"
    local, result = run("example_etl", {"db_path": str(db)})
    assert result.state is DagRunState.SUCCESS
    assert set(states(result).values()) == {SUCCESS}
    expected_totals = [
        ("2024-01-01", "coffee beans", 6, 13, 16250),
        ("2024-01-01", "espresso cups", 4, 18, 5760),
        ("2024-01-01", "filter papers", 4, 11, 5225),
        ("2024-01-01", "grinder", 3, 3, 26700),
        ("2024-01-01", "kettle", 3, 4, 18000),
    ]
    assert _etl_rows(db) == ([("2024-01-01", 20, 71935)], expected_totals)
    assert xcom(local, "report") == 71935
    assert xcom(local, "load")["replaced"] == 0

    # The same day again replaces its rows instead of adding to them.
    local, result = run("example_etl", {"db_path": str(db)})
    assert result.state is DagRunState.SUCCESS
    assert xcom(local, "load")["replaced"] == 20
    assert _etl_rows(db) == ([("2024-01-01", 20, 71935)], expected_totals)

    # Another day is loaded next to the first.
    run("example_etl", {"db_path": str(db)}, logical_date=datetime(2024, 1, 2, tzinfo=UTC))
    days, _ = _etl_rows(db)
    assert days == [("2024-01-01", 20, 71935), ("2024-01-02", 20, 71935)]


def test_etl_prints_what_it_did(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run("example_etl", {"db_path": str(tmp_path / "orders.db")})
    out = capsys.readouterr().out
    assert "extract: read 20 orders for 2024-01-01" in out
    assert "load: wrote 20 orders and 5 product totals for 2024-01-01" in out
    assert "719.35" in out


@pytest.mark.parametrize(
    ("logical_date", "taken", "not_taken"),
    [
        (MONDAY, "weekday_report", "weekend_cleanup"),
        (SATURDAY, "weekend_cleanup", "weekday_report"),
    ],
)
def test_branch_follows_the_weekday(logical_date: datetime, taken: str, not_taken: str) -> None:
    local, result = run("example_branch", logical_date=logical_date)
    assert result.state is DagRunState.SUCCESS
    assert states(result) == {
        "start": SUCCESS,
        "choose_path": SUCCESS,
        taken: SUCCESS,
        not_taken: SKIPPED,
        "join": SUCCESS,
    }
    assert xcom(local, "choose_path") == taken


def test_task_group() -> None:
    dag = load_dag("example_task_group")
    assert dag.get_task("transform.clean").upstream_task_ids == {
        "extract.orders",
        "extract.customers",
    }
    assert dag.get_task("transform.publish").upstream_task_ids == {
        "transform.quality.row_counts",
        "transform.quality.no_nulls",
    }
    assert dag.get_task("end").upstream_task_ids == {"transform.publish"}
    _, result = run("example_task_group")
    assert result.state is DagRunState.SUCCESS
    assert states(result) == {
        tid: SUCCESS
        for tid in (
            "start",
            "extract.orders",
            "extract.customers",
            "transform.clean",
            "transform.quality.row_counts",
            "transform.quality.no_nulls",
            "transform.publish",
            "end",
        )
    }


def test_taskflow_mapping() -> None:
    local, result = run("example_taskflow_mapping")
    assert result.state is DagRunState.SUCCESS
    got = states(result)
    assert got["multiply"] == [SUCCESS] * 5
    assert got["echo"] == [SUCCESS] * 3
    assert xcom(local, "multiply") == [10, 20, 30, 40, 50]
    assert xcom(local, "total") == 150
    assert xcom(local, "describe", key="count") == 5
    assert xcom(local, "describe", key="largest") == 5
    assert xcom(local, "announce") == "5 numbers, the largest is 5"
    assert xcom(local, "echo") == ["one", "two", "three"]


def test_params_defaults_and_conf() -> None:
    local, result = run("example_params")
    assert result.state is DagRunState.SUCCESS
    assert xcom(local, "greet_in_bash") == "greeting world 1 time(s) in en"
    assert xcom(local, "greet_in_python") == ["Hello, world!"]

    conf = {"name": "Ada", "repeat": 2, "language": "fr", "shout": True}
    local, result = run("example_params", conf)
    assert result.state is DagRunState.SUCCESS
    assert xcom(local, "greet_in_bash") == "GREETING ADA 2 TIME(S) IN FR"
    assert xcom(local, "greet_in_python") == ["BONJOUR, ADA!"] * 2


@pytest.mark.parametrize(
    ("conf", "problem"),
    [
        ({"repeat": 6}, "maximum"),
        ({"repeat": 0}, "minimum"),
        ({"language": "xx"}, "is not one of"),
        ({"name": ""}, "minLength"),
    ],
)
def test_params_refuses_bad_conf(conf: dict[str, Any], problem: str) -> None:
    with pytest.raises(ParamValidationError, match=problem):
        run("example_params", conf)
