"""Runs the scheduler creates: on schedule, with catchup, for backfills; and their limits."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from tests.scheduler.conftest import Harness

from sluice.scheduler.runs import create_dag_run
from sluice.scheduler.serialized_dags import SerializedDagCache
from sluice.store import backfills
from sluice.store.tables import Backfill, DagRun

DAILY = """
today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
with DAG(
    "daily", schedule="@daily", start_date=today - timedelta(days=5), catchup={catchup},
    max_active_runs=2,
) as dag:
    PythonOperator(task_id="work", python_callable=lambda: time.sleep(0.2))
"""


def _today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def test_catchup_creates_every_missed_interval_oldest_first_within_max_active_runs(
    harness: Harness,
) -> None:
    harness.write("daily.py", DAILY.format(catchup=True))
    harness.parse()
    most = {"active": 0, "running": 0}

    def watch() -> None:
        runs = harness.runs("daily")
        active = [r for r in runs if r.state in ("queued", "running")]
        most["active"] = max(most["active"], len(active))
        most["running"] = max(most["running"], sum(r.state == "running" for r in runs))

    harness.drive(harness.job(), harness.run_finished("daily", 5), on_pass=watch)
    runs = harness.runs("daily")
    today = _today()
    assert [r.logical_date for r in runs] == [today - timedelta(days=d) for d in range(5, 0, -1)]
    assert [r.run_id for r in runs] == [
        f"scheduled__{(today - timedelta(days=d)).isoformat()}" for d in range(5, 0, -1)
    ]
    assert {r.state for r in runs} == {"success"}
    assert all(r.data_interval_end == r.logical_date + timedelta(days=1) for r in runs)
    # Oldest first: created and started in logical-date order.
    assert sorted(runs, key=lambda r: r.id) == runs
    starts = [r.start_date for r in runs]
    assert all(a is not None and b is not None and a <= b for a, b in itertools.pairwise(starts))
    assert most == {"active": 2, "running": 2}


def test_without_catchup_only_the_latest_interval_runs(harness: Harness) -> None:
    harness.write("daily.py", DAILY.format(catchup=False))
    harness.parse()
    harness.drive(harness.job(), harness.run_finished("daily", 1))
    harness.passes(harness.job())
    runs = harness.runs("daily")
    assert [r.logical_date for r in runs] == [_today() - timedelta(days=1)]
    assert [r.run_type for r in runs] == ["scheduled"]


def test_a_paused_dag_gets_no_runs(harness: Harness) -> None:
    harness.overrides[("core", "dags_are_paused_at_creation")] = True
    harness.write("daily.py", DAILY.format(catchup=True))
    harness.parse()
    harness.passes(harness.job())
    assert harness.runs("daily") == []


def test_dagrun_timeout_fails_the_run_and_skips_what_is_unfinished(harness: Harness) -> None:
    harness.write(
        "slow.py",
        """
        with DAG("slow", schedule=None, start_date=START, dagrun_timeout=timedelta(seconds=1)):
            PythonOperator(task_id="long", python_callable=lambda: time.sleep(3)) >> EmptyOperator(
                task_id="after"
            )
        """,
    )
    harness.parse()
    _manual(harness, "slow", datetime(2024, 2, 1, tzinfo=UTC))
    harness.drive(harness.job(), harness.run_finished("slow"))
    (run,) = harness.runs("slow")
    assert run.state == "failed"
    assert run.end_date is not None and run.start_date is not None
    assert timedelta(seconds=1) <= run.end_date - run.start_date < timedelta(seconds=3)
    assert harness.states("slow", run.run_id) == {"long": "skipped", "after": "skipped"}


def _manual(harness: Harness, dag_id: str, when: datetime) -> DagRun:
    with harness.store.transaction() as session:
        dag = SerializedDagCache().get(session, dag_id)
        assert dag is not None
        return create_dag_run(
            session, dag, run_type="manual", logical_date=when, data_interval=(when, when)
        )


BACKFILLED = """
FLAG = {flag!r}
with DAG("bf", schedule="@daily", start_date=START, catchup=False) as dag:
    @task
    def work(ds=None):
        if ds == "2024-01-02" and os.path.exists(FLAG):
            raise FailTask("asked to fail")
        time.sleep(0.2)
    work()
"""


def _backfill(harness: Harness, **options: object) -> int:
    with harness.store.transaction() as session:
        values = {
            "dag_id": "bf",
            "from_date": datetime(2024, 1, 1, tzinfo=UTC),
            "to_date": datetime(2024, 1, 5, tzinfo=UTC),
            **options,
        }
        return backfills.create_backfill(session, **values).id


def _backfill_done(harness: Harness, backfill_id: int) -> bool:
    with harness.store.transaction() as session:
        row = session.get(Backfill, backfill_id)
        assert row is not None
        return row.state == backfills.COMPLETED


def test_a_backfill_creates_missing_runs_never_duplicates_and_completes(
    harness: Harness,
) -> None:
    harness.write("bf.py", BACKFILLED.format(flag=str(harness.tmp / "absent")))
    harness.parse()
    harness.set_dag("bf", is_paused=True)  # a backfill runs a paused DAG; nothing else does
    _manual(harness, "bf", datetime(2024, 1, 3, tzinfo=UTC))
    backfill_id = _backfill(harness, max_active_runs=2)
    most = [0]

    def watch() -> None:
        with harness.store.transaction() as session:
            active = session.scalar(
                select(func.count()).where(
                    DagRun.backfill_id == backfill_id, DagRun.state.in_(("queued", "running"))
                )
            )
        most[0] = max(most[0], int(active or 0))

    harness.drive(harness.job(), lambda: _backfill_done(harness, backfill_id), on_pass=watch)
    runs = harness.runs("bf")
    assert [(r.logical_date.day, r.run_type) for r in runs] == [
        (1, "backfill"),
        (2, "backfill"),
        (3, "manual"),
        (4, "backfill"),
        (5, "backfill"),
    ]
    assert runs[0].run_id == "backfill__2024-01-01T00:00:00+00:00"
    assert {r.state for r in runs if r.run_type == "backfill"} == {"success"}
    assert most[0] == 2
    # The manual run was not part of the backfill: it stays queued (its DAG is paused).
    assert runs[2].state == "queued" and runs[2].backfill_id is None


def test_a_backfill_reruns_failed_tasks_of_failed_runs_when_asked(harness: Harness) -> None:
    flag = harness.tmp / "fail"
    flag.touch()
    harness.write("bf.py", BACKFILLED.format(flag=str(flag)))
    harness.parse()
    harness.set_dag("bf", is_paused=True)
    first = _backfill(harness, to_date=datetime(2024, 1, 3, tzinfo=UTC))
    harness.drive(harness.job(), lambda: _backfill_done(harness, first))
    assert [r.state for r in harness.runs("bf")] == ["success", "failed", "success"]
    flag.unlink()
    second = _backfill(harness, rerun_failed_tasks=True, to_date=datetime(2024, 1, 3, tzinfo=UTC))
    harness.drive(harness.job(), lambda: _backfill_done(harness, second))
    runs = harness.runs("bf")
    assert [r.state for r in runs] == ["success", "success", "success"]
    assert [r.backfill_id for r in runs] == [first, second, first]
    tries = sorted((t.run_id[10:20], t.try_number) for t in harness.tries("bf"))
    assert tries == [("2024-01-01", 1), ("2024-01-02", 1), ("2024-01-02", 2), ("2024-01-03", 1)]


def test_a_paused_backfill_waits_and_a_cancelled_one_creates_nothing_more(
    harness: Harness,
) -> None:
    harness.write("bf.py", BACKFILLED.format(flag=str(harness.tmp / "absent")))
    harness.parse()
    harness.set_dag("bf", is_paused=True)
    backfill_id = _backfill(harness, max_active_runs=1)

    def first_started() -> bool:
        return any(r.state == "running" for r in harness.runs("bf"))

    job = harness.job()
    harness.drive(job, first_started)
    with harness.store.transaction() as session:
        backfills.pause_backfill(session, backfill_id)
    harness.drive(harness.job(), harness.run_finished("bf", 1))
    harness.passes(harness.job())
    assert [r.state for r in harness.runs("bf")] == ["success"]  # nothing new while paused
    with harness.store.transaction() as session:
        backfills.unpause_backfill(session, backfill_id)
    harness.drive(harness.job(), lambda: len(harness.runs("bf")) == 2)
    with harness.store.transaction() as session:
        backfills.cancel_backfill(session, backfill_id)
    harness.drive(harness.job(), harness.run_finished("bf", 2))
    harness.passes(harness.job())
    runs = harness.runs("bf")
    assert len(runs) == 2 and {r.state for r in runs} <= {"success", "failed"}
    with harness.store.transaction() as session:
        assert session.get(Backfill, backfill_id).state == backfills.CANCELLED  # type: ignore[union-attr]
