"""ExternalTaskSensor over the real database: two DAGs on different schedules, the task
runner running both sides, and pokes that read what the other DAG's runs hold."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.integrations.dagruns.helpers import (
    mark,
    move_run,
    move_ti,
    scheduled_run,
    tries_errors,
)
from tests.runner.conftest import Stored

from sluice import DAG
from sluice.core.errors import DagDefinitionError, SkipTask
from sluice.core.messages import RunnerExit
from sluice.core.states import TaskInstanceState
from sluice.integrations.errors import NoMetadataDatabase
from sluice.integrations.external_task import ExternalTaskError, ExternalTaskSensor
from sluice.integrations.runtime import use_store

S = TaskInstanceState
ELT_DAY = datetime(2024, 3, 14, tzinfo=UTC)
"""elt's run: daily at 00:00."""
REPORT_DAY = ELT_DAY + timedelta(minutes=30)
"""report's run of the same day: daily at 00:30."""

ELT = """
from sluice import TaskGroup

with DAG("elt", schedule="0 0 * * *", start_date=datetime(2024, 1, 1)) as dag:
    extract = EmptyOperator(task_id="extract")
    load = EmptyOperator(task_id="load")
    with TaskGroup("publish") as publish:
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
    with TaskGroup("fanout") as fanout:
        @task
        def parts():
            return [1, 2, 3]

        @task
        def part(x):
            return x

        part.expand(x=parts())
    extract >> load >> publish >> fanout
"""

REPORT = """
from sluice.integrations.external_task import ExternalTaskSensor

HALF_HOUR = timedelta(minutes=30)

with DAG("report", schedule="30 0 * * *", start_date=datetime(2024, 1, 1)) as dag:
    ExternalTaskSensor(
        task_id="wait_load", external_dag_id="elt", external_task_id="load",
        execution_delta=HALF_HOUR, mode="reschedule", poke_interval=300,
    )
    ExternalTaskSensor(
        task_id="wait_load_or_fail", external_dag_id="elt", external_task_id="load",
        execution_delta=HALF_HOUR, failed_states=["failed", "upstream_failed"],
        skipped_states=["skipped"], poke_interval=0.01, timeout=600,
    )
    ExternalTaskSensor(
        task_id="wait_missing", external_dag_id="elt", external_task_id="lod",
        execution_delta=HALF_HOUR, check_existence=True, poke_interval=0.01, timeout=600,
    )
    ExternalTaskSensor(
        task_id="wait_briefly", external_dag_id="elt", external_task_id="load",
        execution_delta=HALF_HOUR, poke_interval=0.01, timeout=0.05,
    )
"""


@pytest.fixture
def two_dags(stored: Stored) -> Iterator[tuple[str, str]]:
    """elt (00:00 daily) and report (00:30 daily) stored, each with a run on the 14th."""
    stored.write("elt.py", ELT)
    stored.write("report.py", REPORT)
    elt = scheduled_run(stored, "elt", ELT_DAY)
    report = scheduled_run(stored, "report", REPORT_DAY)
    with use_store(stored.store):
        yield elt, report


def _sensor(**kwargs: Any) -> ExternalTaskSensor:
    kwargs.setdefault("task_id", "sense")
    kwargs.setdefault("external_dag_id", "elt")
    with DAG("probe", schedule=None, start_date=datetime(2024, 1, 1)):
        return ExternalTaskSensor(**kwargs)


def _poke(sensor: ExternalTaskSensor, when: datetime = ELT_DAY, **context: Any) -> bool:
    return sensor.poke({"logical_date": when, **context})


# -- through the task runner: the classic pair on different schedules --------------------


def test_waits_for_the_task_of_the_run_half_an_hour_earlier(
    stored: Stored, two_dags: tuple[str, str]
) -> None:
    elt, report = two_dags
    # The next day's elt run is done: it is not the one the sensor looks at.
    next_day = scheduled_run(stored, "elt", ELT_DAY + timedelta(days=1))
    move_ti(stored.store, "elt", next_day, "load", "success")

    move_ti(stored.store, "elt", elt, "load", "queued")
    assert stored.run("report", report, "wait_load") == RunnerExit.OUTCOME_WRITTEN
    ti = stored.ti("report", report, "wait_load")
    assert (ti.state, ti.try_number) == (S.UP_FOR_RESCHEDULE, 1)

    # The real runner runs elt's queued task; the rescheduled sensor then succeeds.
    assert stored.run("elt", elt, "load") == RunnerExit.OUTCOME_WRITTEN
    assert stored.ti("elt", elt, "load").state == S.SUCCESS
    assert stored.run("report", report, "wait_load") == RunnerExit.OUTCOME_WRITTEN
    ti = stored.ti("report", report, "wait_load")
    assert (ti.state, ti.try_number) == (S.SUCCESS, 1)


def test_a_failed_external_task_fails_the_sensor_naming_it(
    stored: Stored, two_dags: tuple[str, str]
) -> None:
    elt, report = two_dags
    move_ti(stored.store, "elt", elt, "load", "failed")

    stored.run("report", report, "wait_load_or_fail")

    assert stored.ti("report", report, "wait_load_or_fail").state == S.FAILED
    (error,) = tries_errors(stored, "report", "wait_load_or_fail")
    assert error is not None
    assert error.startswith("ExternalTaskError: task 'wait_load_or_fail' of DAG 'report':")
    assert error.endswith(
        ": task 'load' of DAG 'elt' is failed at logical date 2024-03-14T00:00:00+00:00, one"
        " of failed_states ['failed', 'upstream_failed']"
    )


def test_a_skipped_external_task_skips_the_sensor(
    stored: Stored, two_dags: tuple[str, str]
) -> None:
    elt, report = two_dags
    move_ti(stored.store, "elt", elt, "load", "skipped")

    stored.run("report", report, "wait_load_or_fail")

    assert stored.ti("report", report, "wait_load_or_fail").state == S.SKIPPED


def test_check_existence_fails_at_once_with_close_names(
    stored: Stored, two_dags: tuple[str, str]
) -> None:
    _, report = two_dags

    stored.run("report", report, "wait_missing")

    # Its timeout is ten minutes: it failed on its first poke, without waiting.
    assert stored.ti("report", report, "wait_missing").state == S.FAILED
    (error,) = tries_errors(stored, "report", "wait_missing")
    assert error is not None
    assert "check_existence: Task 'lod' not found in DAG 'elt'. Did you mean: 'load'?" in error


def test_a_poke_mode_sensor_times_out_while_the_task_is_not_done(
    stored: Stored, two_dags: tuple[str, str]
) -> None:
    elt, report = two_dags
    move_ti(stored.store, "elt", elt, "load", "running")

    stored.run("report", report, "wait_briefly")

    assert stored.ti("report", report, "wait_briefly").state == S.FAILED
    (error,) = tries_errors(stored, "report", "wait_briefly")
    assert (error or "").startswith("SensorTimeout: sensor 'wait_briefly' timed out")


# -- pokes on the real database -----------------------------------------------------------


def test_task_ids_must_all_be_in_allowed_states(stored: Stored, two_dags: tuple[str, str]) -> None:
    elt, _ = two_dags
    sensor = _sensor(external_task_ids=["extract", "load"], allowed_states=["success", "skipped"])
    move_ti(stored.store, "elt", elt, "extract", "success")
    assert not _poke(sensor)
    move_ti(stored.store, "elt", elt, "load", "running")
    assert not _poke(sensor)
    mark(stored, "elt", elt, "load", "skipped")
    assert _poke(sensor)
    # No run at that date: nothing to be done yet.
    assert not _poke(sensor, ELT_DAY - timedelta(days=3))


def test_soft_fail_skips_instead_of_failing(stored: Stored, two_dags: tuple[str, str]) -> None:
    elt, _ = two_dags
    move_ti(stored.store, "elt", elt, "load", "upstream_failed")
    sensor = _sensor(external_task_id="load", failed_states=["upstream_failed"], soft_fail=True)

    with pytest.raises(SkipTask, match=r"upstream_failed.*skipping \(soft_fail\)"):
        _poke(sensor)


def test_whole_dag_run_mode_reads_the_run_state(stored: Stored, two_dags: tuple[str, str]) -> None:
    elt, _ = two_dags
    sensor = _sensor(failed_states=["failed"])
    assert not _poke(sensor)
    move_run(stored.store, "elt", elt, "running")
    assert not _poke(sensor)
    move_run(stored.store, "elt", elt, "success")
    assert _poke(sensor)

    failed_day = ELT_DAY + timedelta(days=1)
    move_run(stored.store, "elt", scheduled_run(stored, "elt", failed_day), "failed")
    with pytest.raises(ExternalTaskError, match=r"the run of DAG 'elt' is failed"):
        _poke(sensor, failed_day)


def test_task_group_mode_waits_for_every_task_of_the_group(
    stored: Stored, two_dags: tuple[str, str]
) -> None:
    elt, _ = two_dags
    sensor = _sensor(external_task_group_id="publish")
    move_ti(stored.store, "elt", elt, "publish.a", "success")
    move_ti(stored.store, "elt", elt, "publish.b", "running")
    assert not _poke(sensor)
    mark(stored, "elt", elt, "publish.b", "success")
    assert _poke(sensor)
    # A group the DAG does not have: the sensor waits (check_existence refuses it).
    assert not _poke(_sensor(external_task_group_id="nope"))
    with pytest.raises(ExternalTaskError, match=r"TaskGroup 'nope' not found in DAG 'elt'"):
        _poke(_sensor(external_task_group_id="nope", check_existence=True))


def test_a_mapped_task_counts_every_map_index(stored: Stored, two_dags: tuple[str, str]) -> None:
    elt, _ = two_dags
    stored.expand("elt", elt, "fanout.part", 3)
    by_task = _sensor(external_task_id="fanout.part")
    by_group = _sensor(external_task_group_id="fanout")
    move_ti(stored.store, "elt", elt, "fanout.parts", "success")
    for index in (0, 1):
        move_ti(stored.store, "elt", elt, "fanout.part", "success", map_index=index)
    move_ti(stored.store, "elt", elt, "fanout.part", "running", map_index=2)
    assert not _poke(by_task)
    assert not _poke(by_group)

    mark(stored, "elt", elt, "fanout.part", "success", map_index=2)
    assert _poke(by_task)
    assert _poke(by_group)


def test_execution_date_fn_with_two_dates_needs_both(
    stored: Stored, two_dags: tuple[str, str]
) -> None:
    elt, _ = two_dags
    day_before = scheduled_run(stored, "elt", ELT_DAY - timedelta(days=1))
    seen: dict[str, Any] = {}

    def both_days(logical_date: datetime, run_id: str) -> list[datetime]:
        seen["run_id"] = run_id
        start = logical_date - timedelta(minutes=30)
        return [start, start - timedelta(days=1)]

    sensor = _sensor(external_task_id="load", execution_date_fn=both_days)
    move_ti(stored.store, "elt", elt, "load", "success")
    assert not _poke(sensor, REPORT_DAY, run_id="r1")
    assert seen == {"run_id": "r1"}
    move_ti(stored.store, "elt", day_before, "load", "success")
    assert _poke(sensor, REPORT_DAY, run_id="r1")


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("2024-03-14", r"must return a datetime or a list of datetimes, got '2024-03-14'"),
        (datetime(2024, 3, 14), r"returned the naive datetime 2024-03-14T00:00:00"),
    ],
)
def test_execution_date_fn_must_return_aware_datetimes(
    stored: Stored, two_dags: tuple[str, str], returned: object, message: str
) -> None:
    sensor = _sensor(external_task_id="load", execution_date_fn=lambda logical_date: returned)
    with pytest.raises(ExternalTaskError, match=message):
        _poke(sensor)


def test_check_existence_of_the_dag(stored: Stored, two_dags: tuple[str, str]) -> None:
    with pytest.raises(ExternalTaskError, match=r"DAG 'etl' not found in the database"):
        _poke(_sensor(external_dag_id="etl", check_existence=True))
    assert not _poke(_sensor(external_dag_id="etl"))


def test_without_a_database_the_error_says_so() -> None:
    with pytest.raises(NoMetadataDatabase, match=r"task 'sense' of DAG 'probe'.*metadata database"):
        _poke(_sensor(external_task_id="load"))


# -- arguments checked when the DAG file is read -------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"external_task_id": "a", "external_task_ids": ["b"]}, "not both"),
        ({"external_task_ids": ["a"], "external_task_group_id": "g"}, "not both"),
        ({"external_task_id": "a", "external_task_group_id": "g"}, "not both"),
        ({"execution_delta": timedelta(1), "execution_date_fn": lambda d: d}, "not both"),
        ({"external_task_id": "a", "allowed_states": ["done"]}, r"'done', not a task instance"),
        ({"allowed_states": ["upstream_failed"]}, r"not a DAG run \(no task or group given\)"),
        ({"external_task_id": "a", "allowed_states": "success"}, "must be a list of states"),
        (
            {"external_task_id": "a", "allowed_states": ["success"], "failed_states": ["success"]},
            "a state appears more than once",
        ),
        ({"external_task_ids": ["a", "a"]}, "holds a task id twice"),
        ({"external_task_ids": "a"}, "must be a list of task ids"),
        ({"external_dag_id": ""}, "external_dag_id must be a non-empty string"),
        ({"execution_delta": 30}, "execution_delta must be a timedelta"),
        ({"execution_date_fn": "yesterday"}, "execution_date_fn must be callable"),
        ({"deferrable": True}, "invalid arguments were passed to ExternalTaskSensor"),
    ],
)
def test_bad_arguments_are_dag_definition_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DagDefinitionError, match=message):
        _sensor(**kwargs)


def test_defaults_and_airflow_arguments() -> None:
    sensor = _sensor(external_task_id="load", poll_interval=5)
    assert sensor.external_task_ids == ["load"]
    assert sensor.allowed_states == ["success"]
    assert (sensor.failed_states, sensor.skipped_states) == ([], [])
    assert sensor.template_fields == (
        "external_dag_id", "external_task_id", "external_task_ids", "external_task_group_id",
    )  # fmt: skip
    assert _sensor(external_task_ids=[]).external_task_ids is None
