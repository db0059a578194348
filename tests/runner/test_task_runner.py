"""The task runner against the database: one try of a stored instance, start to finish."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from tests.runner.conftest import Stored

from sluice.core.messages import RunnerExit
from sluice.core.states import TaskInstanceState
from sluice.core.xcom_codec import decode_xcom
from sluice.runner.task_runner import retry_transaction
from sluice.store.tables import XCom

S = TaskInstanceState


def _xcoms(stored: Stored, task_id: str) -> dict[tuple[int, str], object]:
    with stored.store.transaction() as session:
        rows = session.execute(
            select(XCom.map_index, XCom.key, XCom.value).where(XCom.task_id == task_id)
        )
        return {(index, key): decode_xcom(value) for index, key, value in rows}


def test_success_writes_state_try_log_and_xcom(stored: Stored) -> None:
    stored.write(
        "hello.py",
        """
        with DAG("hello", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            @task
            def greet():
                print("printed by the task")
                logging.getLogger("my.module").info("logged by the task")
                subprocess.run(["echo", "echoed by a child process"], check=True)
                print("to stderr", file=sys.stderr)
                return {"greeting": "hi"}
            greet()
        """,
    )
    run_id = stored.trigger("hello")
    assert stored.run("hello", run_id, "greet") == RunnerExit.OUTCOME_WRITTEN

    ti = stored.ti("hello", run_id, "greet")
    assert (ti.state, ti.try_number, ti.pid) == (S.SUCCESS, 1, os.getpid())
    assert ti.duration is not None and ti.end_date is not None
    (attempt,) = stored.tries("hello", "greet")
    assert (attempt.state, attempt.exit_code, attempt.error) == ("success", 0, None)
    assert attempt.pid == os.getpid() and attempt.hostname
    assert attempt.start_date and attempt.end_date and attempt.duration is not None
    log = Path(stored.settings.base_log_folder)
    expected = log / "dag_id=hello" / f"run_id={run_id}" / "task_id=greet" / "attempt=1.log"
    assert attempt.log_path == str(expected)
    text = expected.read_text()
    for line in (
        "printed by the task",
        "logged by the task",
        "echoed by a child process",
        "to stderr",
        "Marked",
    ):
        assert line in text, line
    assert text.index("printed by the task") < text.index("echoed by a child process")
    assert _xcoms(stored, "greet") == {(-1, "return_value"): {"greeting": "hi"}}
    assert json.loads(ti.rendered_fields or "") == {
        "op_args": [],
        "op_kwargs": {},
        "templates_dict": None,
    }


def test_a_failure_with_retries_left_is_up_for_retry_at_the_retry_delay(stored: Stored) -> None:
    stored.write(
        "flaky.py",
        """
        with DAG("flaky", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            @task(retries=2, retry_delay=timedelta(minutes=10))
            def boom():
                raise ValueError("no luck")
            boom()
        """,
    )
    run_id = stored.trigger("flaky")
    before = datetime.now(UTC)
    assert stored.run("flaky", run_id, "boom") == RunnerExit.OUTCOME_WRITTEN
    ti = stored.ti("flaky", run_id, "boom")
    assert ti.state == S.UP_FOR_RETRY
    assert ti.next_try_at is not None
    delay = ti.next_try_at - before
    assert timedelta(minutes=10) <= delay < timedelta(minutes=10, seconds=10)
    (attempt,) = stored.tries("flaky", "boom")
    assert (attempt.state, attempt.error) == ("up_for_retry", "ValueError: no luck")
    assert "ValueError: no luck" in Path(attempt.log_path or "").read_text()

    # The next try is number 2; the last one (3 = max_tries + 1) fails for good.
    stored.run("flaky", run_id, "boom")
    stored.run("flaky", run_id, "boom")
    ti = stored.ti("flaky", run_id, "boom")
    assert (ti.state, ti.try_number) == (S.FAILED, 3)
    assert [t.try_number for t in stored.tries("flaky", "boom")] == [1, 2, 3]


def test_fail_task_fails_without_retry_and_skip_task_skips(stored: Stored) -> None:
    stored.write(
        "ends.py",
        """
        with DAG("ends", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            @task(retries=3)
            def fail():
                raise FailTask("bad input")
            @task
            def skip():
                raise SkipTask("nothing to do")
            fail()
            skip()
        """,
    )
    run_id = stored.trigger("ends")
    stored.run("ends", run_id, "fail")
    stored.run("ends", run_id, "skip")
    assert stored.ti("ends", run_id, "fail").state == S.FAILED
    assert stored.ti("ends", run_id, "skip").state == S.SKIPPED
    assert [t.state for t in stored.tries("ends", "skip")] == ["skipped"]


def test_a_branch_skips_the_instances_of_the_branch_not_taken(stored: Stored) -> None:
    stored.write(
        "branch.py",
        """
        with DAG("branch", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            pick = BranchPythonOperator(task_id="pick", python_callable=lambda: "left")
            left = EmptyOperator(task_id="left")
            right = EmptyOperator(task_id="right")
            after_right = EmptyOperator(task_id="after_right")
            pick >> [left, right]
            right >> after_right
        """,
    )
    run_id = stored.trigger("branch")
    stored.run("branch", run_id, "pick")
    assert stored.ti("branch", run_id, "pick").state == S.SUCCESS
    assert stored.ti("branch", run_id, "right").state == S.SKIPPED
    assert stored.ti("branch", run_id, "left").state is None
    # Only the direct downstream skips; the scheduler's trigger rules skip the rest.
    assert stored.ti("branch", run_id, "after_right").state is None
    assert _xcoms(stored, "pick") == {(-1, "return_value"): "left"}


def test_a_mapped_instance_gets_its_element_from_upstream_xcom(stored: Stored) -> None:
    stored.write(
        "mapped.py",
        """
        with DAG("mapped", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            @task
            def numbers():
                return [10, 20, 30]
            @task
            def double(n):
                print(f"doubling {n}")
                return n * 2
            double.expand(n=numbers())
        """,
    )
    run_id = stored.trigger("mapped")
    stored.run("mapped", run_id, "numbers")
    stored.expand("mapped", run_id, "double", 3)
    assert stored.run("mapped", run_id, "double", 1) == RunnerExit.OUTCOME_WRITTEN
    assert stored.ti("mapped", run_id, "double", 1).state == S.SUCCESS
    assert _xcoms(stored, "double") == {(1, "return_value"): 40}
    (attempt,) = stored.tries("mapped", "double")
    assert "/task_id=double/map_index=1/attempt=1.log" in (attempt.log_path or "")
    assert "doubling 20" in Path(attempt.log_path or "").read_text()


def test_a_map_index_past_the_expansion_fails_the_try_with_a_clear_error(stored: Stored) -> None:
    stored.write(
        "short.py",
        """
        with DAG("short", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            @task
            def numbers():
                return [1]
            @task
            def show(n):
                return n
            show.expand(n=numbers())
        """,
    )
    run_id = stored.trigger("short")
    stored.run("short", run_id, "numbers")
    stored.expand("short", run_id, "show", 2)
    stored.run("short", run_id, "show", 1)
    assert stored.ti("short", run_id, "show", 1).state == S.FAILED
    (attempt,) = stored.tries("short", "show")
    assert attempt.error == "TaskNotFound: task 'show' has 1 map indexes now, so none is 1"


def test_templates_render_from_the_runs_conf_and_params(stored: Stored) -> None:
    stored.write(
        "tpl.py",
        """
        with DAG("tpl", schedule=None, start_date=datetime(2024, 1, 1),
                 params={"who": "nobody", "n": 1}) as dag:
            BashOperator(
                task_id="say",
                bash_command="echo hello {{ dag_run.conf['who'] }} {{ params.who }} "
                "{{ params.n }} {{ ds }} {{ dag_run.run_type }}",
            )
        """,
    )
    run_id = stored.trigger("tpl", conf={"who": "world"})
    stored.run("tpl", run_id, "say")
    ti = stored.ti("tpl", run_id, "say")
    assert ti.state == S.SUCCESS
    rendered = json.loads(ti.rendered_fields or "")
    assert rendered["bash_command"] == "echo hello world world 1 2024-03-15 manual"
    assert _xcoms(stored, "say") == {(-1, "return_value"): "hello world world 1 2024-03-15 manual"}


def test_prev_success_context_comes_from_the_latest_successful_earlier_run(
    stored: Stored,
) -> None:
    stored.write(
        "prev.py",
        """
        with DAG("prev", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            @task
            def show(prev_data_interval_start_success=None, prev_start_date_success=None):
                return [str(prev_data_interval_start_success), prev_start_date_success is None]
            show()
        """,
    )
    first = stored.trigger("prev", when=datetime(2024, 3, 1, tzinfo=UTC))
    second = stored.trigger("prev", when=datetime(2024, 3, 2, tzinfo=UTC))
    with stored.store.transaction() as session:
        from sluice.store.tables import DagRun

        session.execute(
            DagRun.__table__.update()
            .where(DagRun.run_id == first)
            .values(state="success", start_date=datetime(2024, 3, 2, 1, tzinfo=UTC))
        )
    stored.run("prev", second, "show")
    (value,) = [v for (i, k), v in _xcoms(stored, "show").items()]
    assert value == ["2024-03-01T00:00:00+00:00", False]


def test_a_try_starts_once_a_second_runner_is_refused(stored: Stored, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    stored.write(
        "once.py",
        f"""
        with DAG("once", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            @task
            def count():
                with open({str(marker)!r}, "a") as f:
                    f.write("x")
            count()
        """,
    )
    run_id = stored.trigger("once")
    workload = stored.queue("once", run_id, "count")
    assert stored.run_workload(workload) == RunnerExit.OUTCOME_WRITTEN
    assert stored.run_workload(workload) == RunnerExit.NOT_QUEUED
    assert marker.read_text() == "x"
    assert stored.ti("once", run_id, "count").state == S.SUCCESS
    assert [t.state for t in stored.tries("once", "count")] == ["success"]


def test_execution_timeout_kills_a_bash_task_and_its_children(
    stored: Stored, tmp_path: Path
) -> None:
    pidfile = tmp_path / "sleep.pid"
    stored.write(
        "slow.py",
        f"""
        with DAG("slow", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            BashOperator(
                task_id="sleepy",
                bash_command="sleep 30 & echo $! > {pidfile}; wait",
                execution_timeout=timedelta(seconds=1),
            )
        """,
    )
    run_id = stored.trigger("slow")
    started = time.monotonic()
    assert stored.run("slow", run_id, "sleepy") == RunnerExit.OUTCOME_WRITTEN
    assert time.monotonic() - started < 10
    ti = stored.ti("slow", run_id, "sleepy")
    assert ti.state == S.FAILED
    (attempt,) = stored.tries("slow", "sleepy")
    assert "timed out after 1 s" in (attempt.error or "")
    assert not _alive(int(pidfile.read_text()))


def _alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def test_heartbeats_update_the_instance_while_it_runs(stored: Stored) -> None:
    stored.write(
        "beat.py",
        """
        with DAG("beat", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            @task
            def wait():
                time.sleep(0.6)
            wait()
        """,
    )
    run_id = stored.trigger("beat")
    stored.run("beat", run_id, "wait")
    ti = stored.ti("beat", run_id, "wait")
    assert ti.state == S.SUCCESS
    assert ti.start_date is not None and ti.last_heartbeat_at is not None
    assert ti.last_heartbeat_at - ti.start_date >= timedelta(seconds=0.3)


def test_an_instance_taken_away_while_it_runs_keeps_its_new_state(stored: Stored) -> None:
    url = stored.store.url
    stored.write(
        "taken.py",
        f"""
        from sluice.store.engine import Store
        from sluice.store import transitions
        from sluice.store.tables import TaskInstance
        from sluice.core.states import TaskInstanceState

        with DAG("taken", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            @task
            def victim(ti=None):
                store = Store({url!r})
                with store.transaction() as session:
                    row = session.query(TaskInstance).filter_by(task_id="victim").one()
                    transitions.set_state(session, row, TaskInstanceState.FAILED)
                store.dispose()
                time.sleep(0.5)
            victim()
        """,
    )
    run_id = stored.trigger("taken")
    assert stored.run("taken", run_id, "victim") == RunnerExit.TAKEN_AWAY
    assert stored.ti("taken", run_id, "victim").state == S.FAILED
    (attempt,) = stored.tries("taken", "victim")
    assert attempt.exit_code == RunnerExit.TAKEN_AWAY
    assert (attempt.error or "").startswith("outcome not written")
    text = Path(attempt.log_path or "").read_text()
    assert "no longer running for this process" in text


def test_a_dag_gone_from_its_file_fails_the_try_and_says_why(stored: Stored) -> None:
    path = stored.write(
        "gone.py",
        """
        with DAG("gone", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            EmptyOperator(task_id="t")
        """,
    )
    run_id = stored.trigger("gone")
    path.write_text(path.read_text().replace('"gone"', '"renamed"'))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert stored.run("gone", run_id, "t") == RunnerExit.OUTCOME_WRITTEN
    assert stored.ti("gone", run_id, "t").state == S.FAILED
    (attempt,) = stored.tries("gone", "t")
    assert attempt.error is not None
    assert "DAG 'gone' not found in" in attempt.error
    assert attempt.error.endswith("gone.py. Known: renamed")


def test_a_missing_instance_runs_nothing(stored: Stored) -> None:
    stored.write(
        "tiny.py",
        """
        with DAG("tiny", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            EmptyOperator(task_id="t")
        """,
    )
    run_id = stored.trigger("tiny")
    workload = stored.queue("tiny", run_id, "t")
    ghost = type(workload)(
        key=type(workload.key)("tiny", run_id, "nope"), try_number=1, dag_file=workload.dag_file
    )
    assert stored.run_workload(ghost) == RunnerExit.NOT_QUEUED
    assert stored.tries("tiny", "nope") == []


def test_a_new_try_starts_without_the_xcom_of_the_last_one(stored: Stored) -> None:
    stored.write(
        "again.py",
        """
        with DAG("again", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            @task(retries=1, retry_delay=0)
            def push(ti=None):
                ti.xcom_push(f"try_{ti.try_number}", ti.try_number)
                if ti.try_number == 1:
                    raise RuntimeError("first try fails")
            push()
        """,
    )
    run_id = stored.trigger("again")
    stored.run("again", run_id, "push")
    assert _xcoms(stored, "push") == {(-1, "try_1"): 1}
    stored.run("again", run_id, "push")
    assert _xcoms(stored, "push") == {(-1, "try_2"): 2}
    assert stored.ti("again", run_id, "push").state == S.SUCCESS


def test_transactions_are_tried_again_while_the_database_is_away() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("UPDATE ...", {}, Exception("deadlock detected"))
        return "done"

    assert retry_transaction(flaky, 5.0) == "done"
    assert len(calls) == 3

    def broken() -> None:
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key"))

    with pytest.raises(IntegrityError):
        retry_transaction(broken, 5.0)

    def away() -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    started = time.monotonic()
    with pytest.raises(OperationalError):
        retry_transaction(away, 0.2)
    assert time.monotonic() - started < 1
