"""sluice tasks run: one task instance, run the way an executor runs it."""

from __future__ import annotations

import re
import shlex

import click
from sqlalchemy.orm import Session

from sluice.actions.common import load_stored_dag
from sluice.cli.progress import state_text
from sluice.cli.stored_dags import CommandRefused, opened_store, record_action
from sluice.core.messages import RunnerExit, TaskInstanceKey, TaskWorkload
from sluice.core.states import TaskInstanceState
from sluice.runner.dag_cache import DagCache
from sluice.runner.task_logs import task_log_path
from sluice.runner.task_runner import run_task_workload
from sluice.store import transitions
from sluice.store.engine import Store
from sluice.store.run_queries import get_run, get_serialized, get_task_instance
from sluice.store.tables import TaskInstance
from sluice.store.task_tries import next_try_number

S = TaskInstanceState
_OK_STATES = (S.SUCCESS.value, S.SKIPPED.value)


@click.command("run")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("run_id")
@click.option(
    "--map-index",
    "-m",
    type=click.IntRange(min=-1),
    default=None,
    help="The map index of a mapped task's instance.",
)
@click.pass_context
def run_task(
    ctx: click.Context, dag_id: str, task_id: str, run_id: str, map_index: int | None
) -> None:
    """Run one task instance of a stored DAG run, in this process, as a worker would.

    Queues the instance unless it is queued already, runs one try of it (its log goes to
    the task log file, its outcome to the database), then prints where the log is and the
    state it ended in. Exits 1 unless it ended success or skipped.
    """
    with opened_store() as (settings, store):
        workload = _queue(store, dag_id, task_id, run_id, map_index)
        code = run_task_workload(
            workload, settings=settings, store=store, dags=DagCache.from_settings(settings)
        )
        with store.transaction() as session:
            ti = _instance(session, workload.key)
    key = workload.key
    path = task_log_path(settings.base_log_folder, key, workload.try_number)
    if code == RunnerExit.NOT_QUEUED:
        raise CommandRefused(f"{key} was started by another runner first; nothing ran")
    label = task_id if key.map_index < 0 else f"{task_id}[{key.map_index}]"
    click.echo(f"Log: {path}")
    state = ti.state if ti is not None else None
    click.echo(
        f"Task {label} of run '{run_id}': {state_text(S(state) if state else None)}"
        f" (try {workload.try_number}/{(ti.max_tries if ti else 0) + 1})"
    )
    if code == RunnerExit.TAKEN_AWAY:
        click.secho(
            "The instance was cleared or marked while it ran: this try's outcome was not kept.",
            fg="yellow",
            err=True,
        )
    if code == RunnerExit.CRASHED:
        click.secho(
            "The runner failed before writing the outcome; see the log.", fg="red", err=True
        )
    if state not in _OK_STATES:
        ctx.exit(1)


def _queue(
    store: Store, dag_id: str, task_id: str, run_id: str, map_index: int | None
) -> TaskWorkload:
    """Queue the instance (unless it is queued) and make its workload; refuse, changing
    nothing, an instance that is running, finished, or a mapped task not expanded yet."""
    with store.transaction() as session:
        stored = get_serialized(session, dag_id)
        run = get_run(session, dag_id, run_id)
        ti = get_task_instance(session, run, task_id, map_index)
        where = f"Task '{task_id}'" + (f"[{ti.map_index}]" if ti.map_index >= 0 else "")
        where += f" of run '{run_id}'"
        dag = load_stored_dag(session, dag_id)
        if not dag.has_task(task_id):
            raise CommandRefused(f"{where} is no longer in DAG '{dag_id}'")
        if dag.get_task(task_id).is_mapped and ti.map_index < 0:
            raise CommandRefused(
                f"{where} is mapped and not expanded yet: the scheduler expands it into map "
                "indexes once its upstream tasks have run"
            )
        state = ti.state
        if state == S.RUNNING.value:
            raise CommandRefused(
                f"{where} is already running (pid {ti.pid} on {ti.hostname or 'unknown host'})"
            )
        if state != S.QUEUED.value:
            if not transitions.mark_scheduled(session, [ti.id]):
                raise CommandRefused(
                    f"{where} is {state}; clear it first: sluice tasks clear {dag_id} "
                    f"--task-regex {shlex.quote('^' + re.escape(task_id) + '$')} --yes"
                )
            transitions.mark_queued(session, [ti.id], job_id=None)
        record_action(
            session,
            "tasks_run",
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            extra={"map_index": ti.map_index},
        )
        current = S(state) if state else None
        return TaskWorkload(
            key=TaskInstanceKey(dag_id, run_id, task_id, ti.map_index),
            try_number=next_try_number(current, ti.try_number),
            dag_file=stored.fileloc,
            queue=ti.queue,
            priority=ti.priority_weight,
        )


def _instance(session: Session, key: TaskInstanceKey) -> TaskInstance | None:
    return get_task_instance(
        session, get_run(session, key.dag_id, key.run_id), key.task_id, key.map_index
    )
