"""Callbacks the scheduler cannot run itself, because it never imports user code.

A run that finishes sends its DAG's ``on_success_callback`` / ``on_failure_callback``;
a try whose process died (or went silent) sends its task's ``on_failure_callback`` /
``on_retry_callback`` and its email alert. Each arrives as a ``CallbackWorkload`` in an
executor's child, which runs it here. As in Airflow, a DAG callback gets the template
context of the run's most relevant task instance (the last to fail, or on success the last
to finish) plus ``reason``; a task callback gets the failed try's context with
``exception`` set to why the scheduler failed it. A callback that raises is logged, never
fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from sluice.config import Settings
from sluice.core.messages import CallbackWorkload, TaskInstanceKey
from sluice.core.states import TaskInstanceState
from sluice.integrations.email.alerts import send_task_alert
from sluice.integrations.masking import configure_masking
from sluice.integrations.runtime import use_store
from sluice.runner.dag_cache import DagCache
from sluice.runner.db_context import StoredRun, TryFacts, load_run, prepare_try
from sluice.runner.task_instance import RunView
from sluice.runner.task_logs import capture_to_log, dag_callback_log_path, task_log_path
from sluice.runner.task_params import resolve_task_params
from sluice.sdk.dag import DAG
from sluice.sdk.datetimes import as_context_datetime
from sluice.store.engine import Store
from sluice.store.tables import TaskInstance
from sluice.store.xcoms import DbXComStore

log = logging.getLogger("sluice.runner")

S = TaskInstanceState
RAN = 0
"""The callbacks ran (whether or not they raised)."""
NOT_LOADED = 1
"""Nothing ran: the DAG, its run or the task could not be loaded."""

_FAILED = (S.FAILED.value, S.UPSTREAM_FAILED.value)
_SUCCEEDED = (S.SUCCESS.value, S.SKIPPED.value)


def run_callback_workload(
    workload: CallbackWorkload, *, settings: Settings, store: Store, dags: DagCache
) -> int:
    """Run the callbacks ``workload`` names; ``RAN``, or ``NOT_LOADED`` when it could not."""
    try:
        dag = dags.get_dag(workload.dag_file, workload.dag_id)
        with store.transaction() as session:
            run = load_run(session, workload.dag_id, workload.run_id)
            query = select(TaskInstance).where(
                TaskInstance.dag_id == workload.dag_id, TaskInstance.run_id == workload.run_id
            )
            instances = list(session.scalars(query))
    except Exception as exc:
        log.error("%s callback of run %s not run: %s", workload.kind, workload.run_id, exc)
        return NOT_LOADED
    configure_masking(settings)
    level = settings.get_str("logging", "level")
    base = settings.base_log_folder
    if workload.task_id is None:
        path = dag_callback_log_path(base, workload.dag_id, workload.run_id)
        with capture_to_log(path, level):
            raised = _dag_callbacks(workload, dag, run, instances, settings, store)
    else:
        key = TaskInstanceKey(
            workload.dag_id, workload.run_id, workload.task_id, workload.map_index
        )
        path = task_log_path(base, key, workload.try_number)
        with capture_to_log(path, level):
            raised = _task_callbacks(workload, key, dag, run, instances, settings, store)
    if raised is None:
        log.error("%s callback of run %s not run; see %s", workload.kind, workload.run_id, path)
        return NOT_LOADED
    if raised:
        log.warning("%d %s callback(s) of run %s raised; see %s",
                    raised, workload.kind, workload.run_id, path)  # fmt: skip
    return RAN


def _dag_callbacks(
    workload: CallbackWorkload,
    dag: DAG,
    run: StoredRun,
    instances: Sequence[TaskInstance],
    settings: Settings,
    store: Store,
) -> int | None:
    """Call the DAG's callbacks of ``workload.kind``; how many raised (None: none ran)."""
    name = "on_success_callback" if workload.kind == "success" else "on_failure_callback"
    log.info("Running %s of DAG '%s' for run %s (%s)",
             name, dag.dag_id, run.row.run_id, workload.reason)  # fmt: skip
    wanted = _SUCCEEDED if workload.kind == "success" else _FAILED
    ended = [(ti.end_date, ti) for ti in instances if ti.end_date is not None]
    relevant = [pair for pair in ended if pair[1].state in wanted] or ended
    context = None
    if relevant:
        last = max(relevant, key=lambda pair: pair[0])[1]
        try:
            context = _instance_context(dag, run, last, last.try_number, settings, store)
        except Exception as exc:
            log.warning("the callback gets the run's context only: task %s: %s", last.task_id, exc)
    try:
        context = context or _run_context(dag, run)
    except Exception:
        log.exception("cannot build the callback's context")
        return None
    context["reason"] = workload.reason
    return _call(getattr(dag, name), context, name)


def _task_callbacks(
    workload: CallbackWorkload,
    key: TaskInstanceKey,
    dag: DAG,
    run: StoredRun,
    instances: Sequence[TaskInstance],
    settings: Settings,
    store: Store,
) -> int | None:
    """Call the task's failure or retry callbacks for a try the scheduler failed."""
    name = "on_retry_callback" if workload.kind == "retry" else "on_failure_callback"
    row = next(
        (ti for ti in instances if (ti.task_id, ti.map_index) == (key.task_id, key.map_index)),
        None,
    )
    try:
        if row is None:
            raise LookupError(f"no task instance {key} in the database")
        context = _instance_context(dag, run, row, workload.try_number, settings, store)
    except Exception:
        log.exception("cannot run %s of %s", name, key)
        return None
    context["ti"].state = S.UP_FOR_RETRY if workload.kind == "retry" else S.FAILED
    # As Airflow for a try that died: the callback's exception is the reason, as text.
    context["exception"] = workload.reason
    log.info("Running %s of %s, try %d: %s", name, key, workload.try_number, workload.reason)
    raised = _call(getattr(context["task"], name), context, name)
    with use_store(store):  # the email connection may be in the database
        send_task_alert(context["task"], context, retry=workload.kind == "retry",
                        exception=workload.reason)  # fmt: skip
    return raised


def _instance_context(
    dag: DAG, run: StoredRun, row: TaskInstance, try_number: int, settings: Settings, store: Store
) -> dict[str, Any]:
    """The template context of one stored instance, its ``ti`` as the row says."""
    key = TaskInstanceKey(row.dag_id, row.run_id, row.task_id, row.map_index)
    facts = TryFacts(key, try_number, row.max_tries, row.first_try_start, run)
    prepared = prepare_try(dag, facts, DbXComStore(store, row.dag_id, row.run_id), config=settings)
    ti = prepared.ti
    ti.state = S(row.state) if row.state else None
    ti.start_date, ti.end_date = row.start_date, row.end_date
    ti.hostname, ti.pid = row.hostname, row.pid or 0
    return prepared.context


def _run_context(dag: DAG, run: StoredRun) -> dict[str, Any]:
    """The run's part of the context, for a run without a usable task instance."""
    info = run.run_info()
    return {
        "dag": dag,
        "dag_run": RunView(info, state=run.state),
        "run_id": info.run_id,
        "logical_date": as_context_datetime(info.logical_date),
        "data_interval_start": as_context_datetime(info.data_interval_start),
        "data_interval_end": as_context_datetime(info.data_interval_end),
        "params": dict(resolve_task_params(dag.params, None, info.conf)),
        "ti": None,
        "task_instance": None,
    }


def _call(callbacks: Any, context: dict[str, Any], name: str) -> int:
    """Call one callback or a list; how many raised (each is logged, never fatal)."""
    if not callbacks:
        return 0
    raised = 0
    for callback in callbacks if isinstance(callbacks, list | tuple) else [callbacks]:
        try:
            callback(context)
        except (Exception, SystemExit):
            log.exception("%s %r raised; carrying on", name, callback)
            raised += 1
    return raised
