"""The executor interface: small, because every executor (local, Celery) implements it.

An executor receives workloads (frozen data naming a task instance and a try) and reports
when each one's process ended. It never imports user code and never writes states: the
task runner writes the try's outcome through ``sluice.store.transitions``, and the
scheduler reads the executor's events to decide what comes next at once.
"""

from __future__ import annotations

from typing import Protocol

from sluice.core.messages import CallbackWorkload, TaskEvent, TaskWorkload


class Executor(Protocol):
    """What the scheduler needs from an executor."""

    slots: int
    """How many workloads it runs at once; the scheduler queues no more than the free ones."""

    def start(self) -> None:
        """Start workers; called once before anything is queued."""

    def queue(self, workload: TaskWorkload) -> None:
        """Run this try as soon as a worker is free."""

    def run_callback(self, workload: CallbackWorkload) -> None:
        """Run a DAG-level callback in a process that may import the DAG file."""

    def running(self) -> int:
        """How many workloads are queued or running now."""

    def events(self, timeout: float) -> list[TaskEvent]:
        """Finished workloads, waiting up to ``timeout`` seconds for the first one.

        This is the scheduler's only wait: it returns as soon as a task ends.
        """

    def end(self) -> None:
        """Stop taking work, wait for running tasks to finish, stop the workers."""

    def terminate(self) -> None:
        """Kill running tasks and workers now."""
