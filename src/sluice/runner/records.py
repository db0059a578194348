"""What a local run records: each task instance's state, and the run's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sluice.core.states import DagRunState, TaskState


@dataclass
class InstanceRecord:
    """The state of one task instance of a local run."""

    task_id: str
    map_index: int = -1
    state: TaskState = None
    try_number: int = 0
    max_tries: int = 0
    start_date: datetime | None = None
    end_date: datetime | None = None
    next_try_at: datetime | None = None
    error: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds of the last try."""
        if self.start_date is None or self.end_date is None:
            return None
        return (self.end_date - self.start_date).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "task_id": self.task_id,
            "map_index": self.map_index,
            "state": self.state.value if self.state else None,
            "try_number": self.try_number,
            "max_tries": self.max_tries,
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "end_date": self.end_date.isoformat() if self.end_date else None,
            "duration": self.duration,
            "error": self.error,
        }


@dataclass
class RunResult:
    """What ``dags test`` reports at the end."""

    dag_id: str
    run_id: str
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    state: DagRunState
    instances: list[InstanceRecord]
    duration: float
    conf: dict[str, Any] = field(default_factory=dict)
