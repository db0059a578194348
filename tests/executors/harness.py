"""Helpers for executor tests: build executors, collect their events."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from tests.executors import executor_tasks

from sluice.core.messages import TaskEvent
from sluice.executors.base import Executor
from sluice.executors.local import LocalExecutor
from sluice.executors.sequential import SequentialExecutor

MakeExecutor = Callable[..., Executor]


def build(kind: str, parallelism: int, hooks: dict[str, Any]) -> Executor:
    """A LocalExecutor or SequentialExecutor running the test tasks unless told otherwise."""
    hooks.setdefault("run_task", executor_tasks.run_task)
    if kind.startswith("local"):
        return LocalExecutor(parallelism, prefork=kind == "local", **hooks)
    return SequentialExecutor(**hooks)


def executor_factory(kind: str) -> Iterator[MakeExecutor]:
    """Yield a function that builds and starts executors; terminate them all afterwards."""
    made: list[Executor] = []

    def make(parallelism: int = 2, **hooks: Any) -> Executor:
        executor = build(kind, parallelism, hooks)
        made.append(executor)
        executor.start()
        return executor

    yield make
    for executor in made:
        executor.terminate()
    executor_tasks.PREPARED.clear()
    executor_tasks.INITIALISED.clear()


def collect(executor: Executor, count: int, timeout: float = 10.0) -> list[TaskEvent]:
    """Call events() until ``count`` events came (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    events: list[TaskEvent] = []
    while len(events) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only {len(events)} of {count} events arrived: {events}"
        events.extend(executor.events(remaining))
    return events
