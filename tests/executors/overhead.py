"""Measure what an executor adds around a task: ``python -m tests.executors.overhead [N]``.

Two latencies per workload, over N workloads run one after another (so that no queueing
hides in them): from ``queue()`` to the first line of the task in the child, and from the
task's last line to ``events()`` returning in the scheduler's process. The child writes
its timestamps into anonymous shared memory (inherited through both forks), so recording
costs nothing measurable. Then N no-op workloads queued at once give the throughput.
"""

from __future__ import annotations

import ctypes
import mmap
import statistics
import sys
import time

from sluice.core.messages import TaskInstanceKey, TaskWorkload
from sluice.executors.base import Executor
from sluice.executors.local import LocalExecutor
from sluice.executors.sequential import SequentialExecutor
from sluice.store import tables  # noqa: F401  (workers fork from a process as big as a scheduler)

SLOTS = 4096
_memory = mmap.mmap(-1, ctypes.sizeof(ctypes.c_int64) * SLOTS * 2)
_stamps = (ctypes.c_int64 * (SLOTS * 2)).from_buffer(_memory)


def timed_task(workload: TaskWorkload) -> int:
    """A no-op task that records when it started and ended (perf_counter_ns, one clock)."""
    _stamps[2 * workload.key.map_index] = time.perf_counter_ns()
    _stamps[2 * workload.key.map_index + 1] = time.perf_counter_ns()
    return 0


def _workload(index: int) -> TaskWorkload:
    return TaskWorkload(TaskInstanceKey("bench", "run", "noop", index), 1, "/dev/null")


def _percentiles(values_ns: list[int]) -> str:
    values = sorted(value / 1000 for value in values_ns)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"median {statistics.median(values):7.0f} µs   p95 {p95:7.0f} µs"


def measure(name: str, executor: Executor, count: int, gap: float = 0.005) -> None:
    """Print the two latencies and the throughput of one executor.

    ``gap`` seconds pass between one event and the next queue(), as the scheduler spends
    that long committing the task's end and the next task's queuing.
    """
    executor.start()
    try:
        to_start: list[int] = []
        to_event: list[int] = []
        for index in range(count):
            queued = time.perf_counter_ns()
            executor.queue(_workload(index))
            events: list[object] = []
            while not events:
                events.extend(executor.events(10))
            returned = time.perf_counter_ns()
            to_start.append(_stamps[2 * index] - queued)
            to_event.append(returned - _stamps[2 * index + 1])
            time.sleep(gap)
        started = time.perf_counter()
        for index in range(count):
            executor.queue(_workload(index))
        done = 0
        while done < count:
            done += len(executor.events(10))
        elapsed = time.perf_counter() - started
    finally:
        executor.end()
    print(f"{name}")
    print(f"  queue() -> task starts in child   {_percentiles(to_start)}")
    print(f"  task ends -> events() returns     {_percentiles(to_event)}")
    print(f"  {count} no-op tasks queued at once: {count / elapsed:,.0f} tasks/s")


def main() -> None:
    """Measure the LocalExecutor (with and without spares) and the SequentialExecutor."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    measure("LocalExecutor(parallelism=2)", LocalExecutor(2, timed_task), count)
    measure(
        "LocalExecutor(parallelism=2, prefork=False)",
        LocalExecutor(2, timed_task, prefork=False),
        count,
    )
    measure("SequentialExecutor", SequentialExecutor(timed_task), count)


if __name__ == "__main__":
    main()
