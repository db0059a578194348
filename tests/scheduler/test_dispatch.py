"""Runs carried out by the scheduler, the LocalExecutor and the task runner, on every backend."""

from __future__ import annotations

import itertools
import statistics
from datetime import timedelta

from tests.scheduler.conftest import Harness

CHAIN = """
with DAG("chain", schedule=None, start_date=START) as dag:
    previous = None
    for i in range({n}):
        current = PythonOperator(task_id=f"t{{i:02d}}", python_callable=lambda: None)
        if previous is not None:
            previous >> current
        previous = current
"""


def _trigger(harness: Harness, dag_id: str, conf: dict[str, object] | None = None) -> str:
    from sluice.scheduler.runs import create_dag_run
    from sluice.scheduler.serialized_dags import SerializedDagCache
    from sluice.store.transitions import now

    with harness.store.transaction() as session:
        dag = SerializedDagCache().get(session, dag_id)
        assert dag is not None
        when = now()
        run = create_dag_run(
            session,
            dag,
            run_type="manual",
            logical_date=when,
            data_interval=(when, when),
            conf=conf,
        )
        return run.run_id


def _overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals that hold at one instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def test_a_chain_runs_to_success_one_try_per_task(harness: Harness) -> None:
    harness.write("chain.py", CHAIN.format(n=5))
    harness.parse()
    run_id = _trigger(harness, "chain")
    harness.drive(harness.job(), harness.run_finished("chain"))
    assert [r.state for r in harness.runs("chain")] == ["success"]
    instances = harness.instances("chain", run_id)
    assert [ti.task_id for ti in instances] == [f"t{i:02d}" for i in range(5)]
    assert {ti.state for ti in instances} == {"success"}
    assert sorted((t.task_id, t.try_number) for t in harness.tries("chain")) == [
        (f"t{i:02d}", 1) for i in range(5)
    ]
    for before, after in itertools.pairwise(instances):
        assert before.end_date is not None and after.start_date is not None
        assert after.start_date >= before.end_date


def test_the_sequential_executor_runs_a_chain_one_task_at_a_time(harness: Harness) -> None:
    harness.write("chain.py", CHAIN.format(n=3))
    harness.parse()
    run_id = _trigger(harness, "chain")
    harness.drive(harness.job("sequential"), harness.run_finished("chain"))
    assert [r.state for r in harness.runs("chain")] == ["success"]
    assert {ti.state for ti in harness.instances("chain", run_id)} == {"success"}


def test_branches_and_trigger_rules_follow_the_readiness_function(harness: Harness) -> None:
    harness.write(
        "rules.py",
        """
        with DAG("rules", schedule=None, start_date=START) as dag:
            branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "left")
            left = EmptyOperator(task_id="left")
            right = EmptyOperator(task_id="right")
            after_right = EmptyOperator(task_id="after_right")
            join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
            branch >> [left, right]
            right >> after_right
            [left, after_right] >> join

            def boom():
                raise FailTask("no")

            broken = PythonOperator(task_id="broken", python_callable=boom)
            cleanup = EmptyOperator(task_id="cleanup", trigger_rule="all_done")
            alarm = EmptyOperator(task_id="alarm", trigger_rule="one_failed")
            never = EmptyOperator(task_id="never")
            broken >> [cleanup, alarm, never]
        """,
    )
    harness.parse()
    run_id = _trigger(harness, "rules")
    harness.drive(harness.job(), harness.run_finished("rules"))
    states = {ti.task_id: ti.state for ti in harness.instances("rules", run_id)}
    assert states == {
        "branch": "success",
        "left": "success",
        "right": "skipped",
        "after_right": "skipped",
        "join": "success",
        "broken": "failed",
        "cleanup": "success",
        "alarm": "success",
        "never": "upstream_failed",
    }
    # A leaf failed (upstream_failed): the run fails, as in Airflow.
    assert [r.state for r in harness.runs("rules")] == ["failed"]


def test_mapped_tasks_expand_from_upstream_output_and_literals(harness: Harness) -> None:
    harness.write(
        "mapped.py",
        """
        with DAG("mapped", schedule=None, start_date=START) as dag:
            @task
            def numbers():
                return [1, 2, 3]

            @task
            def nothing():
                return []

            @task
            def double(n):
                return n * 2

            @task
            def total(values):
                assert sorted(values) == [2, 4, 6], values
                return sum(values)

            total(double.expand(n=numbers()))
            double.override(task_id="none").expand(n=nothing())
            BashOperator.partial(task_id="echo").expand(bash_command=["echo a", "echo b"])
        """,
    )
    harness.parse()
    run_id = _trigger(harness, "mapped")
    harness.drive(harness.job(), harness.run_finished("mapped"))
    assert harness.states("mapped", run_id) == {
        "numbers": "success",
        "nothing": "success",
        "double[0]": "success",
        "double[1]": "success",
        "double[2]": "success",
        "total": "success",
        "none": "skipped",
        "echo[0]": "success",
        "echo[1]": "success",
    }
    assert [r.state for r in harness.runs("mapped")] == ["success"]


def test_pools_and_max_active_tasks_limit_concurrency(harness: Harness) -> None:
    from sluice.store.pools import set_pool

    harness.write(
        "wide.py",
        """
        with DAG("pooled", schedule=None, start_date=START) as dag:
            for i in range(4):
                PythonOperator(task_id=f"p{i}", pool="two", python_callable=lambda: time.sleep(0.4))
        with DAG("serial", schedule=None, start_date=START, max_active_tasks=1) as dag2:
            for i in range(3):
                PythonOperator(task_id=f"s{i}", python_callable=lambda: time.sleep(0.3))
        with DAG("per_task", schedule=None, start_date=START) as dag3:
            PythonOperator.partial(
                task_id="m", max_active_tis_per_dag=1, python_callable=lambda n: time.sleep(0.3)
            ).expand(op_args=[[1], [2], [3]])
        """,
    )
    harness.parse()
    with harness.store.transaction() as session:
        set_pool(session, "two", 2)
    for dag_id in ("pooled", "serial", "per_task"):
        _trigger(harness, dag_id)

    def done() -> bool:
        return all(harness.run_finished(d)() for d in ("pooled", "serial", "per_task"))

    harness.drive(harness.job(), done)
    for dag_id, most in (("pooled", 2), ("serial", 1), ("per_task", 1)):
        spans = [
            (ti.start_date.timestamp(), ti.end_date.timestamp())
            for ti in harness.instances(dag_id)
            if ti.start_date and ti.end_date
        ]
        assert len(spans) >= 3
        assert _overlap(spans) == most, (dag_id, spans)
        assert {r.state for r in harness.runs(dag_id)} == {"success"}


def test_a_retry_waits_for_its_delay(harness: Harness) -> None:
    harness.write(
        "retry.py",
        """
        def flaky(ti):
            if ti.try_number == 1:
                raise RuntimeError("first try fails")

        with DAG("retry", schedule=None, start_date=START) as dag:
            PythonOperator(
                task_id="flaky", python_callable=flaky, retries=1,
                retry_delay=timedelta(seconds=1.5),
            )
        """,
    )
    harness.parse()
    _trigger(harness, "retry")
    harness.drive(harness.job(), harness.run_finished("retry"))
    tries = sorted(harness.tries("retry"), key=lambda t: t.try_number)
    assert [(t.try_number, t.state) for t in tries] == [(1, "up_for_retry"), (2, "success")]
    assert tries[0].end_date is not None and tries[1].start_date is not None
    assert tries[1].start_date - tries[0].end_date >= timedelta(seconds=1.5)
    assert [r.state for r in harness.runs("retry")] == ["success"]


def test_seconds_per_hop_on_a_chain_of_noop_tasks(harness: Harness) -> None:
    """Measured on every backend; the figure for SQLite is the one in the report."""
    harness.write("chain.py", CHAIN.format(n=20))
    harness.parse()
    run_id = _trigger(harness, "chain")
    harness.drive(harness.job(), harness.run_finished("chain"))
    instances = harness.instances("chain", run_id)
    assert {ti.state for ti in instances} == {"success"}
    hops = [
        (after.start_date - before.end_date).total_seconds()
        for before, after in itertools.pairwise(instances)
        if before.end_date and after.start_date
    ]
    median = statistics.median(hops)
    print(f"\n{harness.store.backend}: seconds per hop, median {median:.4f}, max {max(hops):.4f}")
    # Milliseconds, not Airflow's seconds: generous for a loaded CI machine.
    assert median < 0.5, hops


def test_a_sensor_in_reschedule_mode_frees_its_slot_and_goes_on_with_the_same_try(
    harness: Harness,
) -> None:
    counter = harness.tmp / "pokes"
    harness.write(
        "sensor.py",
        f"""
        from sluice.sensors import PythonSensor

        def ready():
            with open({str(counter)!r}, "a") as out:
                out.write("poke\\n")
            return len(open({str(counter)!r}).read().splitlines()) >= 3

        with DAG("sensing", schedule=None, start_date=START) as dag:
            PythonSensor(task_id="wait", python_callable=ready, mode="reschedule",
                         poke_interval=0.3) >> EmptyOperator(task_id="after")
        """,
    )
    harness.parse()
    run_id = _trigger(harness, "sensing")
    seen: set[str | None] = set()
    harness.drive(
        harness.job(),
        harness.run_finished("sensing"),
        on_pass=lambda: seen.add(harness.states("sensing", run_id)["wait"]),
    )
    assert counter.read_text().count("poke") == 3
    assert "up_for_reschedule" in seen
    assert harness.states("sensing", run_id) == {"wait": "success", "after": "success"}
    (sensor,) = [ti for ti in harness.instances("sensing") if ti.task_id == "wait"]
    assert sensor.try_number == 1
    assert sorted((t.task_id, t.try_number) for t in harness.tries("sensing")) == [
        ("after", 1),
        ("wait", 1),
    ]


def test_higher_priority_weight_goes_first(harness: Harness) -> None:
    harness.overrides[("core", "parallelism")] = 1
    harness.write(
        "priorities.py",
        """
        with DAG("prio", schedule=None, start_date=START) as dag:
            for name, weight in (("low", 1), ("high", 10), ("middle", 5)):
                EmptyOperator(task_id=name, priority_weight=weight)
        """,
    )
    harness.parse()
    run_id = _trigger(harness, "prio")
    harness.drive(harness.job(), harness.run_finished("prio"))
    assert [ti.task_id for ti in harness.instances("prio", run_id)] == ["high", "middle", "low"]


def test_depends_on_past_waits_for_the_previous_run(harness: Harness) -> None:
    harness.write(
        "past.py",
        """
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        with DAG("past", schedule="@daily", start_date=today - timedelta(days=3), catchup=True,
                 max_active_runs=3) as dag:
            PythonOperator(task_id="first", python_callable=lambda: None) >> PythonOperator(
                task_id="step", depends_on_past=True, python_callable=lambda: time.sleep(0.3)
            )
        """,
    )
    harness.parse()
    harness.drive(harness.job(), harness.run_finished("past", 3))
    runs = harness.runs("past")
    assert [r.state for r in runs] == ["success"] * 3
    steps = [
        next(ti for ti in harness.instances("past", r.run_id) if ti.task_id == "step") for r in runs
    ]
    for before, after in itertools.pairwise(steps):
        assert before.end_date is not None and after.start_date is not None
        assert after.start_date >= before.end_date
