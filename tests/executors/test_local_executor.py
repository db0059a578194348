"""The LocalExecutor: warm workers, parallelism, prompt events, crashes, terminate."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from tests.executors import executor_tasks
from tests.executors.executor_tasks import (
    children_of,
    is_alive,
    read_marker,
    wait_dead,
    workload,
)
from tests.executors.harness import MakeExecutor, collect

from sluice.core.errors import ExecutorError
from sluice.executors import local as local_module
from sluice.executors.local import LocalExecutor


def test_runs_workloads_on_two_warm_workers(make_local: MakeExecutor, tmp_path: Path) -> None:
    executor = make_local(parallelism=2)
    task_ids = [f"ok-{n}" for n in range(12)]
    for task_id in task_ids:
        executor.queue(workload(tmp_path, task_id))
    events = collect(executor, len(task_ids))
    assert sorted(event.key.task_id for event in events) == sorted(task_ids)
    assert {event.exit_code for event in events} == {0}
    records = [read_marker(tmp_path / f"{task_id}.json") for task_id in task_ids]
    # Every task ran in its own child, and the children came from the same two workers.
    assert len({record["pid"] for record in records}) == len(task_ids)
    assert len({record["ppid"] for record in records}) == 2
    assert os.getpid() not in {record["ppid"] for record in records}


def test_two_tasks_run_at_the_same_time(make_preforking: MakeExecutor, tmp_path: Path) -> None:
    executor = make_preforking(parallelism=2)
    executor.queue(workload(tmp_path, "slow-1"))
    executor.queue(workload(tmp_path, "slow-2"))
    collect(executor, 2)
    first, second = (read_marker(tmp_path / f"slow-{n}.json") for n in (1, 2))
    assert first["start_ns"] < second["end_ns"]
    assert second["start_ns"] < first["end_ns"]


def test_a_failing_or_crashing_child_leaves_its_worker_alive(
    make_local: MakeExecutor, tmp_path: Path
) -> None:
    executor = make_local(parallelism=1)
    for task_id in ("fail-1", "kill-2", "segfault-3", "ok-4"):
        executor.queue(workload(tmp_path, task_id))
    events = collect(executor, 4)
    assert [event.exit_code for event in events] == [3, -signal.SIGKILL, -signal.SIGSEGV, 0]
    workers = {read_marker(tmp_path / f"{event.key.task_id}.json")["ppid"] for event in events}
    assert len(workers) == 1  # the same worker ran all four
    assert is_alive(workers.pop())


def test_prepare_runs_in_the_worker_before_the_fork(
    make_local: MakeExecutor, tmp_path: Path
) -> None:
    executor = make_local(parallelism=1, prepare=executor_tasks.prepare)
    for task_id in ("ok-1", "ok-2"):  # the second finds the file cached (prepare says False)
        executor.queue(workload(tmp_path, task_id))
        collect(executor, 1)
        record = read_marker(tmp_path / f"{task_id}.json")
        # The child inherited the worker's cache: prepare ran in its parent, the worker.
        assert record["prepared_by"] == record["ppid"]
        assert record["prepared_by"] not in (record["pid"], os.getpid())


def test_events_returns_as_soon_as_a_task_ends(make_local: MakeExecutor, tmp_path: Path) -> None:
    executor = make_local(parallelism=1)
    executor.queue(workload(tmp_path, "slow-1"))
    started = time.monotonic()
    events = executor.events(timeout=60)
    returned_ns = time.perf_counter_ns()
    assert [event.key.task_id for event in events] == ["slow-1"]
    assert time.monotonic() - started < 5
    # From the task's last line to events() returning: the child's exit and one pipe message.
    assert returned_ns - read_marker(tmp_path / "slow-1.json")["end_ns"] < 200_000_000


def test_events_waits_for_the_timeout_when_nothing_runs(make_preforking: MakeExecutor) -> None:
    executor = make_preforking(parallelism=1)
    started = time.monotonic()
    assert executor.events(timeout=0.1) == []
    assert 0.09 < time.monotonic() - started < 2


def test_terminate_kills_a_running_task_and_what_it_started(
    make_local: MakeExecutor, tmp_path: Path
) -> None:
    executor = make_local(parallelism=2)
    executor.queue(workload(tmp_path, "sleep-1"))
    record = read_marker(tmp_path / "sleep-1.json")
    executor.terminate()
    assert wait_dead(record["pid"])
    assert wait_dead(record["grandchild"])
    assert not is_alive(record["ppid"])
    [event] = executor.events(0)
    assert event.exit_code is None
    assert "terminate" in event.message
    assert executor.running() == 0


def test_a_killed_worker_is_replaced_and_its_task_reported(
    make_local: MakeExecutor, tmp_path: Path
) -> None:
    executor = make_local(parallelism=1)
    executor.queue(workload(tmp_path, "sleep-1", try_number=2))
    record = read_marker(tmp_path / "sleep-1.json")
    os.kill(record["ppid"], signal.SIGKILL)
    [event] = executor.events(timeout=10)
    assert (event.key.task_id, event.try_number, event.exit_code) == ("sleep-1", 2, None)
    assert "worker process died (killed by SIGKILL)" in event.message
    # The orphaned task was killed, so that its retry can never run beside it.
    assert wait_dead(record["pid"])
    assert wait_dead(record["grandchild"])
    executor.queue(workload(tmp_path, "ok-2"))
    assert [event.exit_code for event in collect(executor, 1)] == [0]
    assert read_marker(tmp_path / "ok-2.json")["ppid"] != record["ppid"]


def test_end_lets_the_running_task_finish(make_preforking: MakeExecutor, tmp_path: Path) -> None:
    executor = make_preforking(parallelism=1)
    executor.queue(workload(tmp_path, "slow-1"))
    executor.end()
    [event] = executor.events(0)
    assert (event.key.task_id, event.exit_code) == ("slow-1", 0)
    assert not is_alive(read_marker(tmp_path / "slow-1.json")["ppid"])


def test_higher_priority_runs_first(make_preforking: MakeExecutor, tmp_path: Path) -> None:
    executor = make_preforking(parallelism=1)
    executor.queue(workload(tmp_path, "slow-first"))
    executor.queue(workload(tmp_path, "ok-low", priority=1))
    executor.queue(workload(tmp_path, "ok-high", priority=10))
    collect(executor, 3)
    order = (tmp_path / "order.txt").read_text().split()
    assert order == ["slow-first", "ok-high", "ok-low"]


def test_a_failing_worker_init_stops_start(tmp_path: Path) -> None:
    executor = LocalExecutor(
        2, executor_tasks.run_task, worker_init=executor_tasks.failing_worker_init
    )
    with pytest.raises(ExecutorError, match=r"worker_init raised(.|\n)*no database here"):
        executor.start()
    executor.terminate()


@pytest.mark.parametrize("parallelism", [0, -1, 1.5, "2", True])
def test_parallelism_must_be_a_positive_whole_number(parallelism: object) -> None:
    with pytest.raises(ExecutorError, match="parallelism must be a whole number of at least 1"):
        LocalExecutor(parallelism, executor_tasks.run_task)  # type: ignore[arg-type]


def test_a_workload_starts_in_a_child_forked_in_advance(
    make_preforking: MakeExecutor, tmp_path: Path
) -> None:
    executor = make_preforking(parallelism=1, child_init=executor_tasks.child_init)
    executor.queue(workload(tmp_path, "ok-0"))
    collect(executor, 1)
    [spare] = _wait_for_children(read_marker(tmp_path / "ok-0.json")["ppid"], 1)
    queued_ns = time.perf_counter_ns()
    executor.queue(workload(tmp_path, "ok-1"))
    collect(executor, 1)
    record = read_marker(tmp_path / "ok-1.json")
    # The spare ran the task, and its child_init ran before the workload existed.
    assert record["pid"] == spare
    assert record["child_init_ns"] < queued_ns


def test_without_prefork_the_child_is_forked_for_the_workload(
    make_forking: MakeExecutor, tmp_path: Path
) -> None:
    executor = make_forking(parallelism=1, child_init=executor_tasks.child_init)
    queued_ns = time.perf_counter_ns()
    executor.queue(workload(tmp_path, "ok-1"))
    collect(executor, 1)
    record = read_marker(tmp_path / "ok-1.json")
    assert record["child_init_ns"] > queued_ns
    assert _wait_for_children(record["ppid"], 0) == []


def test_a_child_forked_before_prepare_changed_something_is_not_used(
    make_local: MakeExecutor, tmp_path: Path
) -> None:
    executor = make_local(parallelism=1, prepare=executor_tasks.prepare_always_new)
    for generation in (1, 2, 3):
        executor.queue(workload(tmp_path, f"ok-{generation}"))
        assert [event.exit_code for event in collect(executor, 1)] == [0]
        # Each child saw what prepare had just loaded in the worker.
        assert read_marker(tmp_path / f"ok-{generation}.json")["generation"] == generation
    worker = read_marker(tmp_path / "ok-3.json")["ppid"]
    # The unused spares were reaped: at most the next spare is left, and no zombie.
    deadline = time.monotonic() + 5
    while len(children_of(worker)) > 1 or "Z" in children_of(worker).values():
        assert time.monotonic() < deadline, children_of(worker)
        time.sleep(0.005)


def test_a_spare_that_died_is_replaced_by_a_fresh_child(
    make_preforking: MakeExecutor, tmp_path: Path
) -> None:
    executor = make_preforking(parallelism=1)
    executor.queue(workload(tmp_path, "ok-1"))
    collect(executor, 1)
    worker = read_marker(tmp_path / "ok-1.json")["ppid"]
    [spare] = _wait_for_children(worker, 1)
    os.kill(spare, signal.SIGKILL)
    assert wait_dead(spare)
    executor.queue(workload(tmp_path, "ok-2"))
    assert [event.exit_code for event in collect(executor, 1)] == [0]
    assert read_marker(tmp_path / "ok-2.json")["pid"] != spare
    # terminate() leaves no spare behind: it sees its worker's pipe close and exits.
    [spare] = _wait_for_children(worker, 1)
    executor.terminate()
    assert wait_dead(spare)


def _wait_for_children(pid: int, count: int) -> list[int]:
    """Wait until ``pid`` has ``count`` live children; return them."""
    deadline = time.monotonic() + 5
    while True:
        live = [child for child, state in children_of(pid).items() if state != "Z"]
        if len(live) == count:
            return live
        assert time.monotonic() < deadline, children_of(pid)
        time.sleep(0.005)


def test_workers_grow_with_the_work_and_idle_extra_ones_retire(
    make_local: MakeExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executor = make_local(parallelism=3)
    assert len(children_of(os.getpid())) == 1  # one warm worker until work waits

    for n in range(3):
        executor.queue(workload(tmp_path, f"slow-{n}"))
    collect(executor, 3)
    parents = {read_marker(tmp_path / f"slow-{n}.json")["ppid"] for n in range(3)}
    assert len(parents) == 3  # three ran at once, on three workers
    assert len(children_of(os.getpid())) == 3

    monkeypatch.setattr(local_module, "IDLE_WORKER_SECONDS", 0.0)
    executor.events(0.05)  # an idle pass retires the extra workers
    deadline = time.monotonic() + 5
    while len(children_of(os.getpid())) > 1 and time.monotonic() < deadline:
        executor.events(0.05)
    assert len(children_of(os.getpid())) == 1
    executor.queue(workload(tmp_path, "ok-after"))
    assert [event.exit_code for event in collect(executor, 1)] == [0]
