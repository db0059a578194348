"""A whole DAG run in this process, without a database: ``sluice dags test``.

The order of work comes from the same readiness function the scheduler uses;
states live in memory and XCom in a MemoryXComStore.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sluice.core.errors import SluiceError, TaskNotFound
from sluice.core.states import DagRunState, TaskInstanceState, TaskState
from sluice.integrations.lookup import env_variable, task_connection, task_variable
from sluice.integrations.masking import mask_text
from sluice.runner.execute import TryOutcome, run_try
from sluice.runner.records import InstanceRecord, RunResult
from sluice.runner.task_instance import RuntimeTaskInstance, RunView
from sluice.runner.task_params import resolve_task_params
from sluice.runner.xcom import MemoryXComStore
from sluice.sdk.context import RunInfo, build_context
from sluice.sdk.dag import DAG
from sluice.sdk.mapping import MappedOperator
from sluice.sdk.operator import AbstractOperator, BaseOperator
from sluice.sdk.readiness import Decision, decide, downstream_map, run_state
from sluice.sdk.templating import make_environment, render_template_fields

__all__ = ["InstanceRecord", "LocalDagRun", "RunResult", "env_variable", "no_connection"]

log = logging.getLogger("sluice.run")

_WAITING = (None, TaskInstanceState.SCHEDULED)


Lookup = Callable[[str], Any]
Listener = Callable[[InstanceRecord], None]


def no_connection(conn_id: str) -> Any:
    """A lookup that finds no connection (for runs that must not reach outside systems)."""
    return None


class _StatesView(Mapping[str, list[TaskState]]):
    """The instances' states by task id, read on demand (decide reads only a few)."""

    def __init__(self, run: LocalDagRun) -> None:
        self._instances = run.instances

    def __getitem__(self, task_id: str) -> list[TaskState]:
        return [r.state for r in self._instances[task_id]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._instances)

    def __len__(self) -> int:
        return len(self._instances)


class LocalDagRun:
    """Runs every task of one DAG run in dependency order, in this process."""

    def __init__(
        self,
        dag: DAG,
        *,
        logical_date: datetime,
        conf: Mapping[str, Any] | None = None,
        run_type: str = "manual",
        run_id: str | None = None,
        wait_for_retries: bool = True,
        # SLUICE_VAR_/SLUICE_CONN_ first, then the store that use_store() set around the
        # run (none set: the environment only).
        variables: Lookup = task_variable,
        connections: Lookup = task_connection,
        config: Any = None,
        listener: Listener | None = None,
    ) -> None:
        if logical_date.tzinfo is None:
            raise SluiceError(f"logical date {logical_date} has no timezone")
        self.dag = dag
        self.logical_date = logical_date.astimezone(UTC)
        self.conf = dict(conf or {})
        # Invalid conf is refused before anything runs.
        self.params = dag.params.resolve(self.conf)
        interval = dag.infer_manual_data_interval(self.logical_date)
        self.run = RunInfo(
            dag_id=dag.dag_id,
            run_id=run_id or f"{run_type}__{self.logical_date.isoformat()}",
            run_type=run_type,
            logical_date=self.logical_date,
            data_interval_start=interval.start,
            data_interval_end=interval.end,
            conf=self.conf,
            start_date=datetime.now(UTC),
        )
        self.wait_for_retries = wait_for_retries
        self.variables = variables
        self.connections = connections
        self.config = config
        self.listener = listener
        self.xcom = MemoryXComStore()
        self.env = make_environment(dag)
        self.order = [t.task_id for t in dag.topological_sort()]
        self.position = {tid: i for i, tid in enumerate(self.order)}
        self.nodes = dag.task_nodes()
        self.downstream = downstream_map(self.nodes)
        # Only tasks whose upstream states changed can get a new decision.
        self.dirty: set[str] = set(self.order)
        self.instances: dict[str, list[InstanceRecord]] = {
            tid: [InstanceRecord(tid, max_tries=dag.task_dict[tid].max_tries)] for tid in self.order
        }
        self.dag_run = RunView(self.run)
        # Each mapped task's arguments per map index, resolved once when it expands.
        self.expansions: dict[str, list[dict[str, Any]]] = {}
        # What a task's deep copy shares with the original: the DAG and its tasks
        # (an XComArg argument points at its upstream task).
        self._shared: dict[int, Any] = {id(t): t for t in dag.task_dict.values()}
        self._shared[id(dag)] = dag
        self._uncopyable: set[str] = set()
        # When each instance's first try started: a reschedule-mode sensor's timeout.
        self._first_starts: dict[tuple[str, int], datetime] = {}

    # -- the whole run -------------------------------------------------------------

    def execute(self) -> RunResult:
        """Run until every task instance is finished or nothing more can run."""
        started = time.monotonic()
        while True:
            if self._step():
                continue
            if not self._retry_due():
                break
        state = self._final_state()
        self.dag_run.state = state.value
        self._dag_callback(state)
        return RunResult(
            dag_id=self.dag.dag_id,
            run_id=self.run.run_id,
            logical_date=self.logical_date,
            data_interval_start=self.run.data_interval_start,
            data_interval_end=self.run.data_interval_end,
            state=state,
            instances=[r for tid in self.order for r in self.instances[tid]],
            duration=time.monotonic() - started,
            conf=self.conf,
        )

    def _states(self) -> dict[str, list[TaskState]]:
        return {tid: [r.state for r in recs] for tid, recs in self.instances.items()}

    def _step(self) -> bool:
        """Decide the tasks whose upstream changed and act on it; whether anything changed."""
        candidates = sorted(self.dirty, key=self.position.__getitem__)
        self.dirty = set()
        decisions = decide({tid: self.nodes[tid] for tid in candidates}, _StatesView(self))
        changed = False
        for tid in candidates:
            decision = decisions.get(tid)
            if decision is None or decision is Decision.WAIT:
                continue
            changed = True
            if decision is Decision.SKIP:
                self._set_waiting(tid, TaskInstanceState.SKIPPED)
            elif decision is Decision.UPSTREAM_FAILED:
                self._set_waiting(tid, TaskInstanceState.UPSTREAM_FAILED)
            else:
                self._run_task(tid)
        return changed

    def _retry_due(self) -> bool:
        """Wait for the earliest retry or sensor reschedule, then run it; False when none is
        pending. A reschedule is always waited for: a sensor poking at once would spin."""
        pending = [
            r for recs in self.instances.values() for r in recs
            if r.state in (TaskInstanceState.UP_FOR_RETRY, TaskInstanceState.UP_FOR_RESCHEDULE)
        ]  # fmt: skip
        if not pending:
            return False
        record = min(pending, key=lambda r: r.next_try_at or datetime.min.replace(tzinfo=UTC))
        rescheduled = record.state is TaskInstanceState.UP_FOR_RESCHEDULE
        if (self.wait_for_retries or rescheduled) and record.next_try_at is not None:
            delay = (record.next_try_at - datetime.now(UTC)).total_seconds()
            if delay > 0:
                what = "poke" if rescheduled else "retry"
                log.info("waiting %.1f s to %s %s", delay, what, record.task_id)
                time.sleep(delay)
        self._run_instance(self.dag.task_dict[record.task_id], record)
        return True

    def _final_state(self) -> DagRunState:
        return run_state(self.nodes, self._states()) or DagRunState.FAILED

    def _set_waiting(self, task_id: str, state: TaskInstanceState) -> None:
        for record in self.instances[task_id]:
            if record.state in _WAITING:
                self._change(record, state)

    def _change(self, record: InstanceRecord, state: TaskInstanceState) -> None:
        record.state = state
        self.dirty |= self.downstream[record.task_id]
        if self.listener is not None:
            self.listener(record)

    # -- one task ------------------------------------------------------------------

    def _run_task(self, task_id: str) -> None:
        task = self.dag.task_dict[task_id]
        unexpanded = self.instances[task_id][0].map_index == -1
        if isinstance(task, MappedOperator) and unexpanded and not self._expand(task):
            return
        for record in list(self.instances[task_id]):
            if record.state in _WAITING:
                self._run_instance(task, record)

    def _expand(self, task: MappedOperator) -> bool:
        """Replace the placeholder with one instance per element; False if none or broken."""
        placeholder = self.instances[task.task_id][0]
        resolver = self._ti(task, -1, 1)
        try:
            expansion = task.expansion(lambda arg: arg.resolve({"ti": resolver}))
        except Exception as exc:
            placeholder.error = f"{type(exc).__name__}: {exc}"
            log.error("task %s: cannot expand: %s", task.task_id, placeholder.error)
            self._change(placeholder, TaskInstanceState.FAILED)
            return False
        if not expansion:
            log.info("task %s: mapped over nothing: skipped", task.task_id)
            self._change(placeholder, TaskInstanceState.SKIPPED)
            return False
        self.expansions[task.task_id] = expansion
        self.instances[task.task_id] = [
            InstanceRecord(task.task_id, i, max_tries=task.max_tries) for i in range(len(expansion))
        ]
        return True

    def _run_instance(self, task: AbstractOperator, record: InstanceRecord) -> None:
        # As Airflow: a rescheduled sensor goes on with the same try.
        if record.state is not TaskInstanceState.UP_FOR_RESCHEDULE or not record.try_number:
            record.try_number += 1
        ti = self._ti(task, record.map_index, record.try_number)
        ti.first_try_start = self._first_starts.setdefault(
            (record.task_id, record.map_index), datetime.now(UTC)
        )
        self.xcom.clear(task.task_id, record.map_index)
        self._change(record, TaskInstanceState.RUNNING)
        concrete: BaseOperator | None = None
        try:
            concrete = self._concrete(task, record.map_index)
            ti.task = concrete
            outcome = run_try(concrete, ti, self._context(concrete, ti), self.env)
        except Exception as exc:  # the task or its params could not be made for this try
            outcome = TryOutcome(TaskInstanceState.FAILED, error=f"{type(exc).__name__}: {exc}")
            log.error("task %s could not start: %s", task.task_id, outcome.error)
            ti.start_date = ti.end_date = datetime.now(UTC)
        record.start_date, record.end_date = ti.start_date, ti.end_date
        record.error = mask_text(outcome.error) if outcome.error else None
        if outcome.state is TaskInstanceState.UP_FOR_RETRY and concrete is not None:
            # Airflow's jitter hashes dag_id#task_id#logical_date#try_number.
            identity = f"{self.dag.dag_id}#{task.task_id}#{self.logical_date.isoformat()}"
            delay = concrete.retry_delay_after(record.try_number, identity)
            record.next_try_at = (record.end_date or datetime.now(UTC)) + delay
        if outcome.state is TaskInstanceState.UP_FOR_RESCHEDULE:
            record.next_try_at = outcome.reschedule_at
        self._change(record, outcome.state)
        for skipped in outcome.skip_downstream:
            self._set_waiting(skipped, TaskInstanceState.SKIPPED)

    def _concrete(self, task: AbstractOperator, map_index: int) -> BaseOperator:
        """A fresh copy of the operator for one try: rendering and the task's code change it."""
        if isinstance(task, MappedOperator):
            return self._fresh(task.unmap(self.expansions[task.task_id][map_index]))
        assert isinstance(task, BaseOperator)
        return self._fresh(task)

    def _fresh(self, task: BaseOperator) -> BaseOperator:
        """A deep copy sharing the DAG, its tasks and groups; shallow if it cannot be copied."""
        memo = dict(self._shared)
        memo.pop(id(task), None)
        memo[id(task.task_group)] = task.task_group
        try:
            return copy.deepcopy(task, memo)
        except Exception as exc:  # a client, a lock, ... held by the task
            if task.task_id not in self._uncopyable:
                self._uncopyable.add(task.task_id)
                log.warning(
                    "task %s cannot be deep-copied (%s: %s); attributes it changes in one "
                    "try carry over to its retries",
                    task.task_id,
                    type(exc).__name__,
                    exc,
                )
            return copy.copy(task)

    def _ti(self, task: AbstractOperator, map_index: int, try_number: int) -> RuntimeTaskInstance:
        return RuntimeTaskInstance(
            dag=self.dag,
            task=task,
            run_id=self.run.run_id,
            xcom=self.xcom,
            map_index=map_index,
            try_number=try_number,
        )

    def _context(self, task: AbstractOperator, ti: RuntimeTaskInstance) -> dict[str, Any]:
        return build_context(
            dag=self.dag,
            task=task,
            run=self.run,
            ti=ti,
            dag_run=self.dag_run,
            params=resolve_task_params(self.dag.params, getattr(task, "params", None), self.conf),
            variables=self.variables,
            connections=self.connections,
            config=self.config,
            test_mode=True,
        )

    def _dag_callback(self, state: DagRunState) -> None:
        callback = (
            self.dag.on_success_callback
            if state is DagRunState.SUCCESS
            else self.dag.on_failure_callback
        )
        if not callback:
            return
        context = {
            "dag": self.dag,
            "dag_run": self.dag_run,
            "run_id": self.run.run_id,
            "logical_date": self.logical_date,
            "params": self.params,
            "reason": "success" if state is DagRunState.SUCCESS else "task_failure",
        }
        for fn in callback if isinstance(callback, list | tuple) else [callback]:
            try:
                fn(context)
            except Exception:
                log.exception("DAG callback %r raised; carrying on", fn)

    # -- single tasks (``tasks test`` and ``tasks render``) --------------------------

    def test_task(self, task_id: str) -> list[InstanceRecord]:
        """One try of one task, ignoring its dependencies (every map index if it is mapped).

        As Airflow's ``tasks test``, there are no retries: a failed try with retries
        left keeps the state it gave, ``up_for_retry``.
        """
        task = self.dag.get_task(task_id)
        if isinstance(task, MappedOperator) and not self._expand(task):
            return self.instances[task_id]
        for record in self.instances[task_id]:
            self._run_instance(task, record)
        return self.instances[task_id]

    def render_task(self, task_id: str) -> list[tuple[int, dict[str, Any]]]:
        """Every template field of the task rendered, per map index."""
        task = self.dag.get_task(task_id)
        indexes = [-1]
        if isinstance(task, MappedOperator):
            if not self._expand(task):
                reason = self.instances[task_id][0].error or "it maps over nothing"
                raise TaskNotFound(f"task '{task_id}' has no map index to render: {reason}")
            indexes = [r.map_index for r in self.instances[task_id]]
        out = []
        for index in indexes:
            ti = self._ti(task, index, 1)
            concrete = self._concrete(task, index)
            render_template_fields(concrete, self._context(concrete, ti), self.env)
            out.append((index, {f: getattr(concrete, f, None) for f in concrete.template_fields}))
        return out
