"""Errors Sluice raises descend from SluiceError, one base per concern.

SkipTask, FailTask, DownstreamTasksSkipped, RescheduleTask and SensorTimeout are different:
they are signals that task code raises to end a task a certain way, kept outside SluiceError
so that a task's ``except SluiceError`` never swallows them.
"""

from __future__ import annotations

from datetime import datetime


class SluiceError(Exception):
    """Raised when Sluice refuses something; the message says what and why."""


class ConfigError(SluiceError):
    """Raised when a configuration file or override is invalid."""


class DagDefinitionError(SluiceError):
    """Raised when a DAG, a task or a dependency is defined wrongly."""


class DuplicateTaskIdError(DagDefinitionError):
    """Raised when two tasks of one DAG share a task id."""


class CycleError(DagDefinitionError):
    """Raised when the dependencies of a DAG form a cycle."""


class ScheduleError(DagDefinitionError):
    """Raised when a schedule, cron string or timetable is invalid."""


class StoreError(SluiceError):
    """Raised when the metadata database refuses something or cannot be reached."""


class TransitionError(StoreError):
    """Raised when a state change is not allowed from the current state."""


class ExecutorError(SluiceError):
    """Raised when an executor cannot run a workload."""


class ParamValidationError(SluiceError):
    """Raised when a run's conf does not satisfy the DAG's params."""


class TemplateError(SluiceError):
    """Raised when a template field fails to render."""


class XComError(SluiceError):
    """Raised when an XCom value cannot be stored or pulled."""


class ParsingError(SluiceError):
    """Raised when DAG files cannot be found or loaded."""


class DagNotFound(SluiceError):
    """Raised when a DAG id is unknown."""


class TaskNotFound(SluiceError):
    """Raised when a task id is unknown in its DAG."""


class TaskTimeout(SluiceError):
    """Raised when a task runs past its execution_timeout (inside the task)."""


class TaskTerminated(SluiceError):
    """Raised when a task's process is told to stop (SIGTERM), inside the task."""


class SkipTask(Exception):
    """Raised by task code to end the task as skipped."""


class DownstreamTasksSkipped(Exception):
    """Raised by branching operators: this task succeeded and these downstream tasks skip."""

    def __init__(self, tasks: list[str], return_value: object = None) -> None:
        super().__init__(f"skipping downstream tasks: {', '.join(tasks) or '(none)'}")
        self.tasks = tasks
        self.return_value = return_value


class FailTask(Exception):
    """Raised by task code to fail the task at once, without retries."""


class SensorTimeout(FailTask):
    """Raised by a sensor that waited past its timeout: the task fails without retries."""


class RescheduleTask(Exception):
    """Raised by a sensor in reschedule mode: free the slot and try again at ``reschedule_at``."""

    def __init__(self, reschedule_at: datetime) -> None:
        super().__init__(f"rescheduled to {reschedule_at.isoformat()}")
        self.reschedule_at = reschedule_at
