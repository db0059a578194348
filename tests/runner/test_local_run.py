from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sluice import DAG, task
from sluice.core.errors import SluiceError, TaskNotFound
from sluice.core.states import DagRunState, TaskInstanceState
from sluice.exceptions import FailTask, SkipTask
from sluice.operators import BashOperator, EmptyOperator, PythonOperator
from sluice.runner.local_run import InstanceRecord, LocalDagRun
from sluice.runner.xcom import pull_one
from sluice.sdk.mapping import MappedOperator
from sluice.sdk.operator import BaseOperator

S = TaskInstanceState


def flaky(fail_times: int, exc: type[BaseException] = RuntimeError) -> Any:
    """A callable that raises ``fail_times`` times, then returns its try count."""
    calls = {"n": 0}

    def fn(ti: Any) -> int:
        calls["n"] += 1
        if calls["n"] <= fail_times:
            raise exc(f"failure {calls['n']}")
        return int(ti.try_number)

    return fn


def recorder() -> tuple[list[tuple[str, int, Any, int]], Any]:
    events: list[tuple[str, int, Any, int]] = []

    def listen(record: InstanceRecord) -> None:
        events.append((record.task_id, record.map_index, record.state, record.try_number))

    return events, listen


# -- order and states --------------------------------------------------------------------


def test_runs_in_dependency_order(run_dag) -> None:  # type: ignore[no-untyped-def]
    order: list[str] = []
    with DAG("d") as dag:
        tasks = {
            name: PythonOperator(task_id=name, python_callable=lambda n=name: order.append(n))
            for name in ["d", "c", "b", "a"]
        }
        tasks["a"] >> [tasks["b"], tasks["c"]] >> tasks["d"]
    result = run_dag(dag)
    assert result.state is DagRunState.SUCCESS
    assert order[0] == "a" and order[-1] == "d"
    assert result.dag_id == "d"
    assert result.logical_date == datetime(2024, 3, 15, tzinfo=UTC)
    assert result.duration >= 0


def test_failure_makes_downstream_upstream_failed(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        bad = PythonOperator(task_id="bad", python_callable=flaky(99))
        bad >> EmptyOperator(task_id="after") >> EmptyOperator(task_id="later")
        EmptyOperator(task_id="independent")
    result = run_dag(dag)
    assert states(result) == {
        "bad": S.FAILED,
        "after": S.UPSTREAM_FAILED,
        "later": S.UPSTREAM_FAILED,
        "independent": S.SUCCESS,
    }
    assert result.state is DagRunState.FAILED


def test_run_state_comes_from_leaves(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    # A failed non-leaf whose downstream all_done leaf succeeds: the run succeeds (Airflow).
    with DAG("d") as dag:
        bad = PythonOperator(task_id="bad", python_callable=flaky(99))
        bad >> EmptyOperator(task_id="cleanup", trigger_rule="all_done")
    result = run_dag(dag)
    assert states(result) == {"bad": S.FAILED, "cleanup": S.SUCCESS}
    assert result.state is DagRunState.SUCCESS


def test_failed_leaf_fails_the_run(run_dag) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        EmptyOperator(task_id="ok") >> PythonOperator(task_id="bad", python_callable=flaky(99))
    assert run_dag(dag).state is DagRunState.FAILED


def test_all_skipped_run_succeeds(run_dag) -> None:  # type: ignore[no-untyped-def]
    def skip() -> None:
        raise SkipTask("nothing to do")

    with DAG("d") as dag:
        PythonOperator(task_id="s", python_callable=skip) >> EmptyOperator(task_id="after")
    assert run_dag(dag).state is DagRunState.SUCCESS


def test_skip_task_skips_and_all_success_downstream_skips(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    def skip() -> None:
        raise SkipTask("nothing to do")

    with DAG("d") as dag:
        s = PythonOperator(task_id="s", python_callable=skip, retries=3)
        s >> EmptyOperator(task_id="after")
        s >> EmptyOperator(task_id="always", trigger_rule="all_done")
    result = run_dag(dag)
    assert states(result) == {"s": S.SKIPPED, "after": S.SKIPPED, "always": S.SUCCESS}
    assert result.instances[0].try_number == 1


def test_fail_task_fails_at_once_without_retries(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def fail() -> None:
        calls.append(1)
        raise FailTask("bad input")

    with DAG("d") as dag:
        PythonOperator(task_id="f", python_callable=fail, retries=3)
    result = run_dag(dag)
    assert states(result) == {"f": S.FAILED}
    assert calls == [1]
    assert result.instances[0].try_number == 1
    assert result.instances[0].error == "FailTask: bad input"


# -- retries -----------------------------------------------------------------------------


def test_flaky_task_retries_then_succeeds(make_run) -> None:  # type: ignore[no-untyped-def]
    events, listen = recorder()
    with DAG("d") as dag:
        PythonOperator(
            task_id="flaky", python_callable=flaky(2), retries=3, retry_delay=timedelta(hours=1)
        )
    run = make_run(dag, listener=listen)
    result = run.execute()
    assert result.state is DagRunState.SUCCESS
    assert [(state, tries) for _, _, state, tries in events] == [
        (S.RUNNING, 1),
        (S.UP_FOR_RETRY, 1),
        (S.RUNNING, 2),
        (S.UP_FOR_RETRY, 2),
        (S.RUNNING, 3),
        (S.SUCCESS, 3),
    ]
    (record,) = result.instances
    assert (record.try_number, record.max_tries) == (3, 3)
    assert pull_one(run.xcom, "flaky", -1, "return_value") == 3


def test_retries_exhausted_fail(run_dag) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        PythonOperator(task_id="f", python_callable=flaky(99), retries=2, retry_delay=0)
    (record,) = run_dag(dag).instances
    assert (record.state, record.try_number) == (S.FAILED, 3)
    assert record.error == "RuntimeError: failure 3"


def test_retry_time_follows_retry_delay(make_run) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[Any, Any]] = []

    def listen(record: InstanceRecord) -> None:
        if record.state is S.UP_FOR_RETRY:
            seen.append((record.next_try_at, record.end_date))

    with DAG("d") as dag:
        PythonOperator(task_id="f", python_callable=flaky(1), retries=1, retry_delay=90)
    make_run(dag, listener=listen).execute()
    ((next_try, ended),) = seen
    assert next_try - ended == timedelta(seconds=90)


def test_retry_time_with_exponential_backoff(make_run) -> None:  # type: ignore[no-untyped-def]
    delays: list[timedelta] = []

    def listen(record: InstanceRecord) -> None:
        if record.state is S.UP_FOR_RETRY:
            delays.append(record.next_try_at - record.end_date)

    with DAG("d") as dag:
        op = PythonOperator(
            task_id="f",
            python_callable=flaky(3),
            retries=3,
            retry_delay=10,
            retry_exponential_backoff=True,
        )
    make_run(dag, listener=listen).execute()
    identity = "d#f#2024-03-15T00:00:00+00:00"
    assert delays == [op.retry_delay_after(n, identity) for n in (1, 2, 3)]
    assert [
        timedelta(seconds=10 * 2**i) <= d < timedelta(seconds=20 * 2**i)
        for i, d in enumerate(delays)
    ] == [True] * 3


def test_waits_for_retry_delay_when_asked(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        PythonOperator(task_id="f", python_callable=flaky(1), retries=1, retry_delay=0.3)
    started = time.monotonic()
    result = make_run(dag, wait_for_retries=True).execute()
    assert result.state is DagRunState.SUCCESS
    assert time.monotonic() - started >= 0.25


def test_other_tasks_run_while_a_retry_waits(make_run) -> None:  # type: ignore[no-untyped-def]
    events, listen = recorder()
    with DAG("d") as dag:
        PythonOperator(task_id="f", python_callable=flaky(1), retries=1, retry_delay=3600)
        EmptyOperator(task_id="other")
    make_run(dag, listener=listen).execute()
    finished = [(tid, state) for tid, _, state, _ in events if state is not S.RUNNING]
    assert finished.index(("other", S.SUCCESS)) < finished.index(("f", S.SUCCESS))


def test_retried_task_sees_try_number_and_fresh_xcom(make_run) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []

    def fn(ti: Any) -> None:
        seen.append((ti.try_number, ti.xcom_pull(task_ids="f", key="mark")))
        ti.xcom_push(key="mark", value=ti.try_number)
        if ti.try_number == 1:
            raise RuntimeError("first try fails")

    with DAG("d") as dag:
        PythonOperator(task_id="f", python_callable=fn, retries=1)
    run = make_run(dag)
    run.execute()
    assert seen == [(1, None), (2, None)]
    assert pull_one(run.xcom, "f", -1, "mark") == 2


def test_mapped_instances_retry_independently(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    tries: dict[int, int] = {}

    with DAG("d") as dag:

        @task(retries=2, retry_delay=0)
        def each(x: int, ti: Any = None) -> int:
            tries[x] = ti.try_number
            if x == 1 and ti.try_number < 3:
                raise RuntimeError("not yet")
            return x

        each.expand(x=[0, 1, 2])
    result = run_dag(dag)
    assert states(result) == {"each": [S.SUCCESS] * 3}
    assert tries == {0: 1, 1: 3, 2: 1}
    assert [r.try_number for r in result.instances] == [1, 3, 1]


# -- timeouts ----------------------------------------------------------------------------


def test_execution_timeout_fails_a_python_task(run_dag) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        PythonOperator(
            task_id="slow", python_callable=lambda: time.sleep(10), execution_timeout=0.2
        )
    started = time.monotonic()
    (record,) = run_dag(dag).instances
    assert time.monotonic() - started < 5
    assert record.state is S.FAILED
    assert record.error == "TaskTimeout: task 'slow' timed out after 0.2 s (execution_timeout)"


def test_execution_timeout_is_retried(run_dag) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        PythonOperator(
            task_id="slow",
            python_callable=lambda: time.sleep(10),
            execution_timeout=0.1,
            retries=1,
            retry_delay=0,
        )
    (record,) = run_dag(dag).instances
    assert (record.state, record.try_number) == (S.FAILED, 2)


# -- callbacks -----------------------------------------------------------------------------


def test_task_callbacks_receive_context(run_dag) -> None:  # type: ignore[no-untyped-def]
    calls: list[tuple[str, str, Any]] = []

    def cb(name: str) -> Any:
        def call(context: Any) -> None:
            exc = context.get("exception")
            calls.append((name, context["ti"].task_id, exc and f"{type(exc).__name__}: {exc}"))

        return call

    with DAG("d") as dag:
        PythonOperator(
            task_id="ok",
            python_callable=lambda: 1,
            on_execute_callback=cb("execute"),
            on_success_callback=[cb("success"), cb("success2")],
            on_failure_callback=cb("failure"),
        )
        PythonOperator(
            task_id="bad",
            python_callable=flaky(5),
            retries=1,
            retry_delay=0,
            on_retry_callback=cb("retry"),
            on_failure_callback=cb("failure"),
            on_success_callback=cb("success"),
        )
    run_dag(dag)
    assert calls == [
        ("execute", "ok", None),
        ("success", "ok", None),
        ("success2", "ok", None),
        ("retry", "bad", "RuntimeError: failure 1"),
        ("failure", "bad", "RuntimeError: failure 2"),
    ]


def test_raising_callback_does_not_fail_the_task(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    def broken(context: Any) -> None:
        raise ValueError("callback bug")

    with DAG("d") as dag:
        PythonOperator(
            task_id="t",
            python_callable=lambda: 1,
            on_execute_callback=broken,
            on_success_callback=broken,
        )
    result = run_dag(dag)
    assert states(result) == {"t": S.SUCCESS}
    assert result.state is DagRunState.SUCCESS


def test_callbacks_from_default_args(run_dag) -> None:  # type: ignore[no-untyped-def]
    failed: list[str] = []
    with DAG(
        "d", default_args={"on_failure_callback": lambda c: failed.append(c["task"].task_id)}
    ) as dag:
        PythonOperator(task_id="bad", python_callable=flaky(9))
    run_dag(dag)
    assert failed == ["bad"]


@pytest.mark.parametrize(("fails", "expected"), [(False, "success"), (True, "failure")])
def test_dag_callbacks(run_dag, fails: bool, expected: str) -> None:  # type: ignore[no-untyped-def]
    calls: list[tuple[str, Any, Any]] = []

    def on(kind: str) -> Any:
        return lambda context: calls.append((kind, context["dag_run"].state, context["reason"]))

    with DAG("d", on_success_callback=on("success"), on_failure_callback=[on("failure")]) as dag:
        PythonOperator(task_id="t", python_callable=flaky(9 if fails else 0))
    run_dag(dag)
    reason = "success" if expected == "success" else "task_failure"
    assert calls == [(expected, expected.replace("failure", "failed"), reason)]


def test_raising_dag_callback_is_contained(run_dag) -> None:  # type: ignore[no-untyped-def]
    def broken(context: Any) -> None:
        raise ValueError("oops")

    with DAG("d", on_success_callback=broken) as dag:
        EmptyOperator(task_id="t")
    assert run_dag(dag).state is DagRunState.SUCCESS


# -- the run object ------------------------------------------------------------------------


def test_naive_logical_date_is_refused() -> None:
    with DAG("d") as dag:
        EmptyOperator(task_id="t")
    with pytest.raises(SluiceError, match="has no timezone"):
        LocalDagRun(dag, logical_date=datetime(2024, 1, 1))


def test_logical_date_is_converted_to_utc(make_run) -> None:  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    with DAG("d") as dag:
        EmptyOperator(task_id="t")
    run = make_run(dag, logical_date=datetime(2024, 3, 15, 2, tzinfo=ZoneInfo("Europe/Paris")))
    assert run.logical_date == datetime(2024, 3, 15, 1, tzinfo=UTC)


def test_custom_run_id_and_conf(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        BashOperator(task_id="b", bash_command="echo {{ run_id }} {{ dag_run.conf['k'] }}")
    run = make_run(dag, run_id="my_run", conf={"k": "v"})
    result = run.execute()
    assert (result.run_id, result.conf) == ("my_run", {"k": "v"})
    assert pull_one(run.xcom, "b", -1, "return_value") == "my_run v"


def test_cycle_is_refused_before_running() -> None:
    from sluice.core.errors import CycleError

    with DAG("d") as dag:
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        a >> b >> a
    with pytest.raises(CycleError):
        LocalDagRun(dag, logical_date=datetime(2024, 1, 1, tzinfo=UTC))


def test_instance_records_as_dict(run_dag) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        EmptyOperator(task_id="t")
    (record,) = run_dag(dag).instances
    data = record.as_dict()
    assert data["task_id"] == "t" and data["state"] == "success" and data["map_index"] == -1
    assert data["try_number"] == 1 and data["max_tries"] == 0
    assert data["duration"] is not None and data["duration"] >= 0


def test_listener_sees_every_change(make_run) -> None:  # type: ignore[no-untyped-def]
    events, listen = recorder()
    with DAG("d") as dag:
        PythonOperator(task_id="bad", python_callable=flaky(9)) >> EmptyOperator(task_id="after")
    make_run(dag, listener=listen).execute()
    assert [(t, s) for t, _, s, _ in events] == [
        ("bad", S.RUNNING),
        ("bad", S.FAILED),
        ("after", S.UPSTREAM_FAILED),
    ]


def test_empty_dag_run_succeeds(run_dag) -> None:  # type: ignore[no-untyped-def]
    assert run_dag(DAG("empty")).state is DagRunState.SUCCESS


# -- single tasks ----------------------------------------------------------------------------


def test_test_task_ignores_dependencies(make_run) -> None:  # type: ignore[no-untyped-def]
    ran: list[str] = []
    with DAG("d") as dag:
        up = PythonOperator(task_id="up", python_callable=flaky(9))
        down = PythonOperator(task_id="down", python_callable=lambda: ran.append("down") or "ok")
        up >> down
    run = make_run(dag)
    (record,) = run.test_task("down")
    assert record.state is S.SUCCESS
    assert ran == ["down"]
    assert pull_one(run.xcom, "down", -1, "return_value") == "ok"


def test_test_task_makes_a_single_try(make_run) -> None:  # type: ignore[no-untyped-def]
    # As Airflow's ``tasks test``: no retries, and the state the try gave.
    with DAG("d") as dag:
        PythonOperator(task_id="f", python_callable=flaky(1), retries=1, retry_delay=3600)
    (record,) = make_run(dag).test_task("f")
    assert (record.state, record.try_number) == (S.UP_FOR_RETRY, 1)
    assert record.error == "RuntimeError: failure 1"


def test_test_task_mapped_over_literal(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        BashOperator.partial(task_id="b").expand(bash_command=["echo 1", "echo 2"])
    records = make_run(dag).test_task("b")
    assert [(r.map_index, r.state) for r in records] == [(0, S.SUCCESS), (1, S.SUCCESS)]


def test_test_task_unknown_id_suggests(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        EmptyOperator(task_id="extract")
    with pytest.raises(TaskNotFound, match="Did you mean: 'extract'"):
        make_run(dag).test_task("extarct")


def test_render_task_of_empty_mapping(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        BashOperator.partial(task_id="b").expand(bash_command=[])
    with pytest.raises(TaskNotFound, match="no map index"):
        make_run(dag).render_task("b")


def test_failure_callback_gets_the_exception_object(run_dag) -> None:  # type: ignore[no-untyped-def]
    from sluice.core.errors import TaskTimeout

    seen: list[BaseException] = []
    with DAG("d") as dag:
        PythonOperator(
            task_id="slow",
            python_callable=lambda: time.sleep(5),
            execution_timeout=0.1,
            on_failure_callback=lambda context: seen.append(context["exception"]),
        )
    run_dag(dag)
    (exc,) = seen
    assert isinstance(exc, TaskTimeout)


def test_on_execute_callback_sees_rendered_fields(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    with DAG("d") as dag:
        BashOperator(
            task_id="b",
            bash_command="echo {{ ds }}",
            on_execute_callback=lambda context: seen.append(context["task"].bash_command),
        )
    run_dag(dag)
    assert seen == ["echo 2024-03-15"]


def test_render_task_explains_a_failed_expansion(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        up = PythonOperator(task_id="up", python_callable=lambda: [1])
        BashOperator.partial(task_id="b").expand(bash_command=up.output)
    with pytest.raises(TaskNotFound, match=r"no map index to render: .*expected a list, got None"):
        make_run(dag).render_task("b")


# -- mapped tasks expand once ------------------------------------------------------------


def test_mapped_task_expands_once_per_run(make_run, states, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    original = MappedOperator.expansion

    def counting(self: MappedOperator, resolve: Any) -> list[dict[str, Any]]:
        calls.append(self.task_id)
        return original(self, resolve)

    monkeypatch.setattr(MappedOperator, "expansion", counting)
    with DAG("d") as dag:

        @task
        def produce() -> list[int]:
            return [0, 1, 2, 3]

        @task(retries=1, retry_delay=0)
        def each(x: int, ti: Any = None) -> int:
            if x == 2 and ti.try_number == 1:
                raise RuntimeError("retry me")
            return x * 10

        each.expand(x=produce())
    run = make_run(dag)
    result = run.execute()
    assert states(result)["each"] == [S.SUCCESS] * 4
    assert calls == ["each"]
    assert [pull_one(run.xcom, "each", i, "return_value") for i in range(4)] == [0, 10, 20, 30]


# -- each try gets its own copy of the task ------------------------------------------------


class Accumulating(BaseOperator):
    """Keeps what each try saw in an attribute, and fails its first try."""

    def __init__(self, *, report: Callable[[Any], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.report = report
        self.seen: list[int] = []

    def execute(self, context: Any) -> None:
        self.seen.append(context["ti"].try_number)
        self.report((list(self.seen), context["task"].dag, context["task"].task_group))
        if context["ti"].try_number == 1:
            raise RuntimeError("first try fails")


def test_attributes_changed_in_a_try_do_not_reach_the_retry(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    log: list[Any] = []
    with DAG("d") as dag:
        original = Accumulating(task_id="acc", report=log.append, retries=1, retry_delay=0)
    assert states(run_dag(dag)) == {"acc": S.SUCCESS}
    assert [seen for seen, _, _ in log] == [[1], [2]]
    # The copy shares the DAG and its task group; its own attributes are fresh.
    assert all(d is dag and g is dag.task_group for _, d, g in log)
    assert original.seen == []


def test_mapped_instances_do_not_share_fixed_arguments(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[list[int]] = []
    with DAG("d") as dag:

        @task
        def each(x: int, acc: list[int]) -> None:
            acc.append(x)
            seen.append(list(acc))

        each.partial(acc=[]).expand(x=[1, 2])
    run_dag(dag)
    assert seen == [[1], [2]]


def test_uncopyable_task_falls_back_to_a_shallow_copy(run_dag, states, caplog) -> None:  # type: ignore[no-untyped-def]
    class WithLock(PythonOperator):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.lock = threading.Lock()

    with DAG("d") as dag:
        WithLock(task_id="l", python_callable=flaky(1), retries=1, retry_delay=0)
    with caplog.at_level(logging.WARNING, logger="sluice.run"):
        result = run_dag(dag)
    assert states(result) == {"l": S.SUCCESS}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("task l cannot be deep-copied (TypeError:")
