"""Callbacks run for the scheduler: a DAG's when its run ends, a task's when its try died."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from tests.runner.conftest import Stored
from tests.scheduler.conftest import Harness

from sluice.core.messages import CallbackWorkload
from sluice.core.states import DagRunState
from sluice.runner.dag_callbacks import NOT_LOADED, RAN, run_callback_workload
from sluice.scheduler.recovery import recover
from sluice.scheduler.runs import create_dag_run
from sluice.scheduler.serialized_dags import SerializedDagCache
from sluice.store import jobs, transitions
from sluice.store.engine import Store
from sluice.store.tables import DagRun, TaskInstance

RECORDER = """
import json
OUT = {out!r}

def record(name):
    def callback(context):
        ti = context.get("ti")
        data = {{
            "reason": context.get("reason"),
            "keys": sorted(context),
            "run_id": context["run_id"],
            "run_state": context["dag_run"].state,
            "params": context["params"],
            "ti": ti.task_id if ti is not None else None,
            "ti_state": ti.state if ti is not None else None,
            "try_number": ti.try_number if ti is not None else None,
            "exception": context.get("exception"),
            "interval": str(context["data_interval_start"]),
        }}
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(data, f, default=str)
    return callback

def boom(context):
    raise RuntimeError("callback boom")
"""

CALLBACK_DAGS = """
with DAG("good", schedule=None, start_date=datetime(2024, 1, 1), params={{"x": 1}},
         on_success_callback=record("good")) as good:
    PythonOperator(task_id="ok", python_callable=lambda: None)

with DAG("bad", schedule=None, start_date=datetime(2024, 1, 1),
         on_failure_callback=[boom, record("bad")]) as bad:
    def fail():
        raise ValueError("task boom")
    first = PythonOperator(task_id="first", python_callable=lambda: None)
    second = PythonOperator(task_id="second", python_callable=fail,
                            on_failure_callback=record("task_failure"))
    first >> second
"""


def _write(stored: Stored, out: Path) -> Path:
    return stored.write("callbacks.py", RECORDER.format(out=str(out)) + CALLBACK_DAGS.format())


def _finish(store: Store, dag_id: str, run_id: str, state: DagRunState) -> None:
    with store.transaction() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        transitions.finish_run(session, run, state)


def _callback(stored: Stored, workload: CallbackWorkload) -> int:
    return run_callback_workload(
        workload, settings=stored.settings, store=stored.store, dags=stored.dags
    )


def _read(out: Path, name: str) -> dict[str, Any]:
    return json.loads((out / f"{name}.json").read_text())  # type: ignore[no-any-return]


def test_a_successful_run_runs_on_success_callback_with_the_last_task_context(
    stored: Stored, tmp_path: Path
) -> None:
    path = _write(stored, tmp_path)
    run_id = stored.trigger("good")
    stored.run("good", run_id, "ok")
    _finish(stored.store, "good", run_id, DagRunState.SUCCESS)

    workload = CallbackWorkload("good", run_id, str(path), "success", "success")
    assert _callback(stored, workload) == RAN
    seen = _read(tmp_path, "good")
    assert (seen["reason"], seen["run_id"], seen["run_state"]) == ("success", run_id, "success")
    assert (seen["ti"], seen["ti_state"], seen["params"]) == ("ok", "success", {"x": 1})
    assert {"dag", "dag_run", "ds", "logical_date", "data_interval_end", "task"} <= set(
        seen["keys"]
    )
    assert seen["interval"].startswith("2024-03-15")


def test_a_failed_run_runs_every_failure_callback_even_after_one_raises(
    stored: Stored, tmp_path: Path
) -> None:
    path = _write(stored, tmp_path)
    run_id = stored.trigger("bad")
    stored.run("bad", run_id, "first")
    stored.run("bad", run_id, "second")
    _finish(stored.store, "bad", run_id, DagRunState.FAILED)

    workload = CallbackWorkload("bad", run_id, str(path), "failure", "task_failure")
    assert _callback(stored, workload) == RAN
    seen = _read(tmp_path, "bad")
    # The context is the last failed instance's, as in Airflow.
    assert (seen["reason"], seen["run_state"]) == ("task_failure", "failed")
    assert (seen["ti"], seen["ti_state"]) == ("second", "failed")
    log = stored.settings.base_log_folder / "dag_id=bad" / f"run_id={run_id}" / "dag_callback.log"
    text = log.read_text()
    assert "callback boom" in text and "raised; carrying on" in text


def test_a_run_without_finished_tasks_gets_the_run_context(stored: Stored, tmp_path: Path) -> None:
    path = _write(stored, tmp_path)
    run_id = stored.trigger("bad")
    _finish(stored.store, "bad", run_id, DagRunState.FAILED)

    workload = CallbackWorkload("bad", run_id, str(path), "failure", "timed_out")
    assert _callback(stored, workload) == RAN
    seen = _read(tmp_path, "bad")
    assert (seen["reason"], seen["ti"], seen["run_state"]) == ("timed_out", None, "failed")
    assert {"dag", "dag_run", "run_id", "logical_date", "params"} <= set(seen["keys"])


def test_nothing_to_load_is_a_non_zero_exit(stored: Stored, tmp_path: Path) -> None:
    path = str(_write(stored, tmp_path))
    run_id = stored.trigger("good")
    assert _callback(stored, CallbackWorkload("nope", run_id, path, "success")) == NOT_LOADED
    assert _callback(stored, CallbackWorkload("good", "no_run", path, "success")) == NOT_LOADED
    missing = CallbackWorkload("good", run_id, path, "failure", task_id="gone", try_number=1)
    assert _callback(stored, missing) == NOT_LOADED
    assert not list(tmp_path.glob("*.json"))


def test_a_task_callback_gets_the_failed_try_and_why(stored: Stored, tmp_path: Path) -> None:
    path = _write(stored, tmp_path)
    run_id = stored.trigger("bad")
    stored.run("bad", run_id, "first")
    why = "the try's process did not finish it: killed by signal 9"
    workload = CallbackWorkload(
        "bad", run_id, str(path), "failure", why, task_id="second", try_number=1
    )
    assert _callback(stored, workload) == RAN
    seen = _read(tmp_path, "task_failure")
    assert (seen["ti"], seen["ti_state"], seen["try_number"]) == ("second", "failed", 1)
    assert seen["exception"] == why and seen["reason"] is None
    attempt = stored.settings.base_log_folder.joinpath(
        "dag_id=bad", f"run_id={run_id}", "task_id=second", "attempt=1.log"
    )
    assert "Running on_failure_callback" in attempt.read_text()


def test_callback_workloads_survive_a_broker() -> None:
    workload = CallbackWorkload("d", "r", "/f.py", "retry", "why", "t", 2, 3)
    assert CallbackWorkload.from_dict(workload.to_dict()) == workload
    old = {"dag_id": "d", "run_id": "r", "dag_file": "/f.py", "kind": "success", "version": 1}
    assert CallbackWorkload.from_dict(old).task_id is None
    with pytest.raises(ValueError, match="version"):
        CallbackWorkload.from_dict({**old, "version": 99})


# -- with the scheduler ------------------------------------------------------------------

SCHEDULED = """
with DAG("flaky", schedule=None, start_date=START, on_success_callback=record("dag_success"),
         on_failure_callback=record("dag_failure")) as dag:
    def work(ti):
        if ti.try_number == 1:
            time.sleep(60)

    PythonOperator(task_id="work", python_callable=work, retries=1,
                   retry_delay=timedelta(seconds=0), on_retry_callback=record("retry"))
"""


@pytest.fixture
def harness(store: Store, tmp_path: Path) -> Iterator[Harness]:
    """The scheduler tests' harness, over an empty DAGs folder."""
    folder = tmp_path / "dags"
    folder.mkdir()
    yield Harness(store, folder, tmp_path, {})


def _trigger(harness: Harness) -> str:
    with harness.store.transaction() as session:
        dag = SerializedDagCache().get(session, "flaky")
        assert dag is not None
        when = datetime(2024, 3, 1, tzinfo=UTC)
        return create_dag_run(
            session, dag, run_type="manual", logical_date=when, data_interval=(when, when)
        ).run_id


def _work(harness: Harness) -> TaskInstance:
    with harness.store.transaction() as session:
        ti = session.scalar(select(TaskInstance).where(TaskInstance.task_id == "work"))
        assert ti is not None
        return ti  # type: ignore[no-any-return]


def test_the_scheduler_runs_task_and_dag_callbacks(harness: Harness, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    harness.write("flaky.py", RECORDER.format(out=str(out)) + SCHEDULED)
    harness.parse()
    run_id = _trigger(harness)
    killed: list[int] = []

    def kill_first_try() -> None:
        ti = _work(harness)
        if not killed and ti.state == "running" and ti.try_number == 1 and ti.pid:
            os.kill(ti.pid, signal.SIGKILL)
            killed.append(ti.pid)

    def done() -> bool:
        return harness.run_finished("flaky")() and (out / "dag_success.json").exists()

    harness.drive(harness.job(), done, on_pass=kill_first_try)
    retry = _read(out, "retry")
    assert (retry["ti"], retry["ti_state"], retry["try_number"]) == ("work", "up_for_retry", 1)
    assert "signal 9" in retry["exception"]
    success = _read(out, "dag_success")
    assert (success["reason"], success["run_id"], success["ti"]) == ("success", run_id, "work")
    assert not (out / "dag_failure.json").exists()


def test_recovery_sends_a_silent_try_s_task_callback(harness: Harness, tmp_path: Path) -> None:
    harness.write("flaky.py", RECORDER.format(out=str(tmp_path)) + SCHEDULED)
    harness.parse()
    run_id = _trigger(harness)
    ti = _work(harness)
    with harness.store.transaction() as session:
        me = jobs.register_job(session, jobs.SCHEDULER, socket.gethostname(), os.getpid())
        transitions.mark_scheduled(session, [ti.id])
        transitions.mark_queued(session, [ti.id], job_id=me)
        transitions.mark_running(session, ti.id, transitions.TryStart(1, "gone", 1))
        session.execute(
            update(TaskInstance)
            .where(TaskInstance.id == ti.id)
            .values(last_heartbeat_at=datetime.now(UTC) - timedelta(seconds=30))
        )
    with harness.store.transaction() as session:
        done = recover(
            session,
            SerializedDagCache(),
            job_id=me,
            hostname=socket.gethostname(),
            now=transitions.now(),
            job_timeout=60.0,
            task_timeout=5.0,
        )
    (workload,) = done.callbacks
    assert (workload.run_id, workload.kind, workload.task_id) == (run_id, "retry", "work")
    assert (workload.map_index, workload.try_number) == (-1, 1)
    assert "no heartbeat" in workload.reason
