"""The next-run fields of a DAG row: set when the DAG is new or its schedule changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.processor.conftest import MakeProcessor, WriteDag

from sluice.parsing.serialize import deserialize_dag, serialize_dag
from sluice.sdk.dag import DAG
from sluice.sdk.operators.empty import EmptyOperator
from sluice.sdk.schedules import DataInterval
from sluice.store.engine import Store
from sluice.store.tables import Dag, DagRun

NOW = datetime(2024, 3, 15, 10, 30, tzinfo=UTC)

SCHEDULED = """
from datetime import datetime
from sluice import DAG
from sluice.operators import EmptyOperator

with DAG("d", schedule={schedule!r}, start_date=datetime(2024, 1, 1), catchup={catchup},
         description={description!r}) as dag:
    EmptyOperator(task_id="a")
"""


def _write(
    write_dag: WriteDag, schedule: str | None, *, catchup: bool, description: str = "x"
) -> None:
    write_dag("d.py", SCHEDULED, schedule=schedule, catchup=catchup, description=description)


def _next(store: Store) -> tuple[datetime | None, ...]:
    with store.transaction() as session:
        dag = session.get(Dag, "d")
        assert dag is not None
        return (
            dag.next_dagrun,
            dag.next_dagrun_data_interval_start,
            dag.next_dagrun_data_interval_end,
            dag.next_dagrun_create_after,
        )


def _day(day: int, month: int = 1, hour: int = 0) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=UTC)


def test_a_new_daily_dag_without_catchup_gets_the_latest_complete_interval(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    _write(write_dag, "@daily", catchup=False)

    make_processor().run_once(now=NOW)

    assert _next(store) == (_day(14, 3), _day(14, 3), _day(15, 3), _day(15, 3))


def test_a_new_daily_dag_with_catchup_starts_at_its_start_date(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    _write(write_dag, "@daily", catchup=True)

    make_processor().run_once(now=NOW)

    assert _next(store) == (_day(1), _day(1), _day(2), _day(2))


def test_a_dag_without_schedule_has_no_next_run(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    _write(write_dag, None, catchup=True)

    make_processor().run_once(now=NOW)

    assert _next(store) == (None, None, None, None)


def test_a_changed_schedule_follows_the_latest_automated_run(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    _write(write_dag, "@daily", catchup=True)
    processor = make_processor()
    processor.run_once(now=NOW)
    with store.transaction() as session:
        for run_type, day in (("scheduled", 5), ("manual", 9)):
            session.add(
                DagRun(
                    dag_id="d",
                    run_id=f"{run_type}__{day}",
                    logical_date=_day(day),
                    data_interval_start=_day(day),
                    data_interval_end=_day(day + 1),
                    run_type=run_type,
                    state="success",
                )
            )

    _write(write_dag, "0 12 * * *", catchup=True)
    processor.run_once(now=NOW)

    # After the scheduled run's interval (the manual run does not count), on the new ticks.
    assert _next(store) == (_day(5, hour=12), _day(5, hour=12), _day(6, hour=12), _day(6, hour=12))


def test_an_edit_that_keeps_the_schedule_keeps_the_next_run(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    _write(write_dag, "@daily", catchup=True)
    processor = make_processor()
    processor.run_once(now=NOW)
    # What the scheduler writes after creating the first run.
    with store.transaction() as session:
        dag = session.get(Dag, "d")
        assert dag is not None
        dag.next_dagrun = dag.next_dagrun_data_interval_start = _day(2)
        dag.next_dagrun_data_interval_end = dag.next_dagrun_create_after = _day(3)

    _write(write_dag, "@daily", catchup=True, description="edited")
    report = processor.run_once(now=NOW)

    assert report.updated == ("d",)
    assert _next(store) == (_day(2), _day(2), _day(3), _day(3))


def _dag(**kwargs: object) -> DAG:
    with DAG("unit", **kwargs) as dag:  # type: ignore[arg-type]
        EmptyOperator(task_id="a")
    dag.validate()
    return dag


def test_next_dagrun_info_respects_end_date() -> None:
    dag = deserialize_dag(
        serialize_dag(_dag(schedule="@daily", start_date=_day(1), end_date=_day(3), catchup=True))
    )

    assert dag.next_dagrun_info(None, NOW) is not None
    assert dag.next_dagrun_info(DataInterval(_day(2), _day(3)), NOW) is not None
    assert dag.next_dagrun_info(DataInterval(_day(3), _day(4)), NOW) is None


def test_without_a_dag_start_date_runs_start_at_the_earliest_task_start_date() -> None:
    with DAG("unit", schedule=timedelta(days=1), catchup=True) as dag:
        EmptyOperator(task_id="a", start_date=_day(10))
        EmptyOperator(task_id="b", start_date=_day(5))
    dag.validate()
    stored = deserialize_dag(serialize_dag(dag))

    info = stored.next_dagrun_info(None, NOW)

    assert info is not None
    assert info.data_interval == DataInterval(_day(5), _day(6))


def test_when_every_task_ends_the_latest_task_end_date_bounds_the_runs() -> None:
    with DAG("unit", schedule="@daily", start_date=_day(1), catchup=True) as dag:
        EmptyOperator(task_id="a", end_date=_day(3))
        EmptyOperator(task_id="b", end_date=_day(4))
    dag.validate()
    stored = deserialize_dag(serialize_dag(dag))

    assert stored.time_restriction().latest == _day(4)
    assert stored.next_dagrun_info(DataInterval(_day(3), _day(4)), NOW) is not None
    assert stored.next_dagrun_info(DataInterval(_day(4), _day(5)), NOW) is None


@pytest.mark.parametrize("schedule", [None, "@continuous"])
def test_next_dagrun_info_for_unscheduled_and_continuous_dags(schedule: str | None) -> None:
    dag = deserialize_dag(serialize_dag(_dag(schedule=schedule, start_date=_day(1), catchup=False)))

    info = dag.next_dagrun_info(None, NOW)

    assert (info is None) == (schedule is None)
