"""The ``ti`` object a running task sees: its identity, its try, and XCom."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sluice.core.errors import XComError
from sluice.core.states import TaskState
from sluice.runner.xcom import XComStore, pull_one, push
from sluice.sdk.context import RunInfo
from sluice.sdk.xcom_arg import RETURN_VALUE

if TYPE_CHECKING:
    from sluice.sdk.dag import DAG
    from sluice.sdk.operator import AbstractOperator


@dataclass
class RuntimeTaskInstance:
    """One task instance while it runs: the ``ti`` and ``task_instance`` of the context."""

    dag: DAG
    task: AbstractOperator
    run_id: str
    xcom: XComStore
    map_index: int = -1
    try_number: int = 1
    state: TaskState = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    first_try_start: datetime | None = None
    """When the first try started: a sensor in reschedule mode measures its timeout from it."""
    hostname: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)

    @property
    def dag_id(self) -> str:
        """The DAG's id."""
        return self.dag.dag_id

    @property
    def task_id(self) -> str:
        """The task's id."""
        return self.task.task_id

    @property
    def max_tries(self) -> int:
        """As Airflow's ``max_tries``: the number of retries; tries in all are one more."""
        return int(getattr(self.task, "retries", 0) or 0)

    @property
    def duration(self) -> float | None:
        """Seconds the try took, once it has ended."""
        if self.start_date is None or self.end_date is None:
            return None
        return (self.end_date - self.start_date).total_seconds()

    def xcom_push(self, key: str, value: Any) -> None:
        """Store a value under ``key`` for downstream tasks."""
        if not isinstance(key, str) or not key:
            raise XComError(f"task '{self.task_id}': an XCom key must be a non-empty string")
        push(self.xcom, self.task_id, self.map_index, key, value, where=self._where(key))

    def xcom_pull(
        self,
        task_ids: str | Iterable[str] | None = None,
        dag_id: str | None = None,
        key: str = RETURN_VALUE,
        include_prior_dates: bool = False,
        *,
        map_indexes: int | Iterable[int] | None = None,
        default: Any = None,
        run_id: str | None = None,
        **unsupported: Any,
    ) -> Any:
        """Values pushed by other tasks of this run, as Airflow's ``xcom_pull``.

        One task id gives its value (a list over map indexes if it is mapped and
        ``map_indexes`` is not given); a list of task ids gives a list of values.
        ``dag_id`` and ``run_id`` may only name this run: a local run holds no other XCom.
        """
        self._check_pull_scope(dag_id, run_id, include_prior_dates, unsupported)
        if task_ids is None:
            task_ids = self.task_id
        if isinstance(task_ids, str):
            return self._pull_task(task_ids, key, map_indexes, default)
        return [self._pull_task(t, key, map_indexes, default) for t in task_ids]

    def _check_pull_scope(
        self,
        dag_id: str | None,
        run_id: str | None,
        include_prior_dates: bool,
        unsupported: Mapping[str, Any],
    ) -> None:
        """Refuse, rather than ignore, what would pull XCom from outside this run."""
        problem = None
        if unsupported:
            problem = f"argument(s) {', '.join(map(repr, sorted(unsupported)))} are"
        elif dag_id is not None and dag_id != self.dag_id:
            problem = f"dag_id={dag_id!r} (another DAG) is"
        elif run_id is not None and run_id != self.run_id:
            problem = f"run_id={run_id!r} (another run) is"
        elif include_prior_dates:
            problem = "include_prior_dates=True is"
        if problem:
            raise XComError(
                f"task '{self.task_id}': xcom_pull {problem} not supported in a local run yet"
            )

    def _pull_task(
        self, task_id: str, key: str, map_indexes: int | Iterable[int] | None, default: Any
    ) -> Any:
        if isinstance(map_indexes, int):
            value = pull_one(self.xcom, task_id, map_indexes, key)
            return default if value is None else value
        task = self.dag.task_dict.get(task_id)
        mapped = bool(task is not None and task.is_mapped)
        if map_indexes is not None:
            return [pull_one(self.xcom, task_id, m, key) for m in map_indexes]
        if mapped:
            return [
                pull_one(self.xcom, task_id, m, key) for m in self.xcom.map_indexes(task_id, key)
            ]
        value = pull_one(self.xcom, task_id, -1, key)
        return default if value is None else value

    def _where(self, key: str) -> str:
        index = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"XCom '{key}' of task '{self.task_id}'{index}"

    def push_result(self, value: Any, *, multiple_outputs: bool) -> None:
        """Push a return value, and each key of it when ``multiple_outputs`` is set."""
        if value is None:
            return
        if multiple_outputs:
            if not isinstance(value, Mapping):
                raise XComError(
                    f"task '{self.task_id}' has multiple_outputs=True but returned a value "
                    f"of type {type(value).__name__}, not a dict"
                )
            for k, v in value.items():
                if not isinstance(k, str):
                    raise XComError(
                        f"task '{self.task_id}' has multiple_outputs=True; returned key {k!r} "
                        "is not a string"
                    )
                self.xcom_push(k, v)
        self.xcom_push(RETURN_VALUE, value)

    def __repr__(self) -> str:
        index = f" [{self.map_index}]" if self.map_index >= 0 else ""
        where = f"{self.dag_id}.{self.task_id}{index}"
        return f"<TaskInstance {where} {self.run_id} try {self.try_number}>"


@dataclass
class RunView:
    """The ``dag_run`` of the context during a local run: the run's facts and its state."""

    info: RunInfo
    state: str = "running"

    def __getattr__(self, name: str) -> Any:
        # dag_run.run_id, .conf, .logical_date, ... read through to the run's facts.
        if name.startswith("__") or name == "info":
            raise AttributeError(name)
        return getattr(self.info, name)
