"""What every executor does (LocalExecutor and SequentialExecutor), with real processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from tests.executors import executor_tasks
from tests.executors.executor_tasks import read_marker, workload
from tests.executors.harness import MakeExecutor, collect

from sluice.core.errors import ExecutorError
from sluice.core.messages import CallbackWorkload
from sluice.executors.local import LocalExecutor
from sluice.executors.sequential import SequentialExecutor


def test_exit_codes_of_children(make_executor: MakeExecutor, tmp_path: Path) -> None:
    executor = make_executor()
    expected = {
        "ok-1": 0,
        "fail-1": 3,
        "raise-1": 1,
        "kill-1": -signal.SIGKILL,
        "segfault-1": -signal.SIGSEGV,
    }
    for task_id in expected:
        executor.queue(workload(tmp_path, task_id))
    assert executor.running() == len(expected)
    events = collect(executor, len(expected))
    assert {event.key.task_id: event.exit_code for event in events} == expected
    assert all(event.try_number == 1 for event in events)
    assert executor.running() == 0


def test_each_child_is_its_own_process_group(make_executor: MakeExecutor, tmp_path: Path) -> None:
    executor = make_executor()
    executor.queue(workload(tmp_path, "ok-1"))
    collect(executor, 1)
    record = read_marker(tmp_path / "ok-1.json")
    assert record["pgid"] == record["pid"]
    assert record["pid"] != os.getpid()


def test_hooks_run_outside_the_executors_process(
    make_executor: MakeExecutor, tmp_path: Path
) -> None:
    executor = make_executor(
        prepare=executor_tasks.prepare,
        worker_init=executor_tasks.worker_init,
        child_init=executor_tasks.child_init,
    )
    executor.queue(workload(tmp_path, "ok-1"))
    assert [event.exit_code for event in collect(executor, 1)] == [0]
    record = read_marker(tmp_path / "ok-1.json")
    # The child sees what prepare cached and what worker_init did...
    assert record["prepared_by"] is not None
    assert record["initialised"]
    # ...and none of it happened in the scheduler's process, which never imports user code.
    assert executor_tasks.PREPARED == {}
    assert executor_tasks.INITIALISED == []


def test_callbacks_run_and_yield_no_event(make_executor: MakeExecutor, tmp_path: Path) -> None:
    executor = make_executor(run_callback=executor_tasks.run_callback)
    executor.run_callback(CallbackWorkload("dag", "run", str(tmp_path), "failure"))
    executor.queue(workload(tmp_path, "ok-1"))
    assert executor.running() == 1
    assert [event.key.task_id for event in collect(executor, 1)] == ["ok-1"]
    assert read_marker(tmp_path / "callback-failure.json")["pid"] != os.getpid()
    assert executor.events(0) == []


def test_no_work_before_start_or_after_end(tmp_path: Path) -> None:
    for executor in (
        LocalExecutor(1, executor_tasks.run_task),
        SequentialExecutor(executor_tasks.run_task),
    ):
        with pytest.raises(ExecutorError, match="not started"):
            executor.queue(workload(tmp_path, "ok-1"))
        with pytest.raises(ExecutorError, match="not started"):
            executor.events(0)
        executor.start()
        with pytest.raises(ExecutorError, match="already started"):
            executor.start()
        executor.end()
        with pytest.raises(ExecutorError, match="takes no new work"):
            executor.queue(workload(tmp_path, "ok-1"))
        assert executor.events(0) == []
        executor.terminate()  # after end(): a no-op, not an error


def test_end_reports_workloads_that_never_started(
    make_executor: MakeExecutor, tmp_path: Path
) -> None:
    executor = make_executor(parallelism=1)
    executor.queue(workload(tmp_path, "ok-1"))
    executor.queue(workload(tmp_path, "ok-2"))
    first = collect(executor, 1)
    executor.queue(workload(tmp_path, "ok-3"))
    executor.queue(workload(tmp_path, "ok-4"))
    executor.end()
    events = first + executor.events(0)
    by_task = {event.key.task_id: event for event in events}
    assert set(by_task) == {"ok-1", "ok-2", "ok-3", "ok-4"}
    # The sequential executor runs nothing outside events(), the local one lets ok-3 finish.
    started = {task_id for task_id, event in by_task.items() if event.exit_code == 0}
    for task_id in set(by_task) - started:
        assert by_task[task_id].exit_code is None
        assert "before it started" in by_task[task_id].message
    assert "ok-4" not in started
    assert executor.running() == 0
