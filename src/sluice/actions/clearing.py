"""Clearing task instances so that the scheduler runs them again, and marking them.

Clearing follows ExternalTaskMarker tasks into the DAGs they name, as Airflow's clear
does by default ("Recursive"): see ``plan_clear`` and ``_follow_markers``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from sluice.actions.common import ActionRefused, Actor, load_stored_dag
from sluice.core.errors import SluiceError
from sluice.core.states import TaskInstanceState
from sluice.parsing.serialized import SerializedDag, SerializedTask
from sluice.sdk.datetimes import as_context_datetime
from sluice.sdk.macros import make_macros
from sluice.sdk.templating import make_environment, render_template
from sluice.store import transitions
from sluice.store.clearing import ClearResult, clear_task_instances
from sluice.store.external_states import run_at
from sluice.store.run_queries import get_dag, instances_to_clear
from sluice.store.tables import DagRun, TaskInstance

S = TaskInstanceState
FAILED = (S.FAILED.value, S.UPSTREAM_FAILED.value)
MARKABLE = (S.SUCCESS, S.FAILED, S.SKIPPED)

MARKER = "ExternalTaskMarker"
"""The operator name of the tasks a clear follows into other DAGs (as Airflow matches it)."""
DEFAULT_RECURSION_DEPTH = 10

Pair = tuple[TaskInstance, DagRun]


@dataclass(frozen=True)
class ClearPlan:
    """The instances a clear would reset, and the running ones it leaves alone.

    Both lists hold the instances of other DAGs that ExternalTaskMarker tasks lead to
    (their ``dag_id`` says so); ``notes`` says which markers led nowhere, and why.
    """

    dag: SerializedDag
    chosen: list[Pair]
    running: list[Pair]
    notes: list[str] = field(default_factory=list)
    """Markers that were not followed: their DAG, run or task is missing."""
    external_dags: dict[str, SerializedDag] = field(default_factory=dict)
    """The other DAGs that markers lead to, by id."""

    @property
    def external(self) -> list[Pair]:
        """The chosen instances that belong to other DAGs than ``dag``."""
        return [(ti, run) for ti, run in self.chosen if ti.dag_id != self.dag.dag_id]


def pick_tasks(dag: SerializedDag, pattern: str | None) -> list[str]:
    """The tasks whose id matches ``pattern`` (re.search; all when None), in DAG order."""
    if pattern is None:
        return dag.task_ids
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ActionRefused(f"task regex {pattern!r} is not a regular expression: {exc}") from None
    picked = [tid for tid in dag.task_ids if regex.search(tid)]
    if not picked:
        raise ActionRefused(
            f"no task of DAG '{dag.dag_id}' matches {pattern!r}; its tasks are"
            f" {', '.join(dag.task_ids)}"
        )
    return picked


def with_relatives(
    dag: SerializedDag, task_ids: Collection[str], *, downstream: bool, upstream: bool
) -> list[str]:
    """The tasks and, as asked, everything downstream or upstream of them, in DAG order."""
    unknown = [tid for tid in task_ids if tid not in dag.tasks]
    if unknown:
        raise ActionRefused(f"DAG '{dag.dag_id}' has no task {', '.join(map(repr, unknown))}")
    picked = set(task_ids)
    for tid in task_ids:
        if downstream:
            picked |= dag.get_flat_relative_ids(tid)
        if upstream:
            picked |= dag.get_flat_relative_ids(tid, upstream=True)
    return [tid for tid in dag.task_ids if tid in picked]


def plan_clear(
    session: Session,
    dag_id: str,
    task_ids: Collection[str] | None = None,
    *,
    downstream: bool = False,
    upstream: bool = False,
    only_failed: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
    run_id: str | None = None,
    recursive: bool = True,
) -> ClearPlan:
    """What clearing these tasks (all when None) in runs between ``start`` and ``end`` (or
    in the one run ``run_id``) would reset. Instances with no state yet are left out.

    With ``recursive`` (the default, as Airflow's CLI and UI), an ExternalTaskMarker among
    the instances adds the task it names, and that task's downstream, in the other DAG's
    run at the marker's logical date, and so on through the markers found there.
    """
    get_dag(session, dag_id)
    dag = load_stored_dag(session, dag_id)
    if start and end and end < start:
        raise ActionRefused(f"end date {end.isoformat()} is before start date {start.isoformat()}")
    tasks = with_relatives(
        dag, dag.task_ids if task_ids is None else list(task_ids),
        downstream=downstream, upstream=upstream,
    )  # fmt: skip
    states = FAILED if only_failed else None
    found = instances_to_clear(
        session, dag_id, tasks, states=states, start=start, end=end, run_id=run_id
    )
    notes: list[str] = []
    external: dict[str, SerializedDag] = {}
    if recursive:
        found += _follow_markers(session, dag, found, states, notes, external)
    running = [(ti, run) for ti, run in found if ti.state == S.RUNNING.value]
    chosen = [(ti, run) for ti, run in found if ti.state not in (None, S.RUNNING.value)]
    return ClearPlan(dag=dag, chosen=chosen, running=running, notes=notes, external_dags=external)


def apply_clear(session: Session, actor: Actor, plan: ClearPlan) -> ClearResult:
    """Clear what the plan chose: each instance gets its task's retries again, and its
    finished run goes back to queued. Each DAG gets its own audit row."""
    by_dag: dict[str, list[Pair]] = {plan.dag.dag_id: []}
    for ti, run in plan.chosen:
        by_dag.setdefault(ti.dag_id, []).append((ti, run))
    cleared: list[int] = []
    requeued: list[str] = []
    for dag_id, pairs in by_dag.items():
        result = clear_task_instances(session, pairs, _retries(session, plan, dag_id))
        extra: dict[str, object] = {
            "cleared": len(result.cleared),
            "requeued_runs": result.requeued_runs,
        }
        if dag_id != plan.dag.dag_id:
            extra["through_external_task_marker_of"] = plan.dag.dag_id
        actor.record(session, "tasks_clear", dag_id=dag_id, extra=extra)
        cleared += result.cleared
        requeued += result.requeued_runs
    return ClearResult(cleared=cleared, requeued_runs=requeued)


def _retries(session: Session, plan: ClearPlan, dag_id: str) -> dict[str, int]:
    """Each task's retries in the DAG, so that a cleared instance gets them all again."""
    dag = plan.dag if dag_id == plan.dag.dag_id else plan.external_dags.get(dag_id)
    if dag is None:  # a plan rebuilt by a front end keeps its instances, not its DAGs
        try:
            dag = load_stored_dag(session, dag_id)
        except SluiceError:
            return {}  # the DAG went away since the plan: no retries renewed
    return {tid: task.retries for tid, task in dag.tasks.items()}


def _follow_markers(
    session: Session,
    dag: SerializedDag,
    found: Sequence[Pair],
    states: Sequence[str] | None,
    notes: list[str],
    dags: dict[str, SerializedDag],
) -> list[Pair]:
    """The instances of other DAGs that the ExternalTaskMarker instances in ``found``
    lead to, recursively, as Airflow's ``DAG.clear`` collects them.

    As Airflow: the first marker met sets the depth limit (its ``recursion_depth``); a
    marker further away than that refuses the whole clear, since it most likely means a
    cycle; a marker already visited is not followed again. A marker whose DAG, run or
    task is missing adds a note instead.
    """
    seen = {ti.id for ti, _ in found}
    visited: set[tuple[str, str, str, int]] = set()
    added: list[Pair] = []
    limit: int | None = None
    todo: list[tuple[SerializedDag, Sequence[Pair], int]] = [(dag, found, 0)]
    while todo:
        current, pairs, depth = todo.pop(0)
        for ti, run in pairs:
            task = current.tasks.get(ti.task_id)
            key = (ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
            if task is None or task.operator != MARKER or key in visited:
                continue
            visited.add(key)
            if limit is None:
                limit = _recursion_depth(task)
            if depth + 1 > limit:
                raise ActionRefused(
                    f"maximum recursion depth {limit} reached at ExternalTaskMarker"
                    f" '{ti.task_id}' of DAG '{ti.dag_id}': the clear would follow markers"
                    " through too many DAGs, or they form a cycle"
                )
            target = _marker_target(session, current, task, run, notes)
            if target is None:
                continue
            other, other_run, task_id = target
            dags[other.dag_id] = other
            tasks = [task_id, *sorted(other.get_flat_relative_ids(task_id))]
            reached = instances_to_clear(
                session, other.dag_id, tasks, states=states, run_id=other_run.run_id
            )
            added += [(t, r) for t, r in reached if t.id not in seen]
            seen.update(t.id for t, _ in reached)
            todo.append((other, reached, depth + 1))
    return added


def _recursion_depth(task: SerializedTask) -> int:
    """The marker's recursion_depth: a template field of ExternalTaskMarker (so that the
    stored DAG keeps it), or one of the operator's other arguments."""
    value = task.template_values.get("recursion_depth")
    if value is None:
        value = (getattr(task, "operator_args", None) or {}).get("recursion_depth")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return DEFAULT_RECURSION_DEPTH


def _marker_target(
    session: Session, dag: SerializedDag, task: SerializedTask, run: DagRun, notes: list[str]
) -> tuple[SerializedDag, DagRun, str] | None:
    """The DAG, run and task a marker instance names; None (and a note) when one of
    them is missing or its template does not render."""
    where = f"ExternalTaskMarker '{task.task_id}' of DAG '{dag.dag_id}' (run '{run.run_id}')"
    try:
        values = _render_marker(dag, task, run)
    except Exception as exc:  # a user's template: any error is a note, not a failed clear
        notes.append(f"{where} not followed: {exc}")
        return None
    dag_id, task_id, when = values
    try:
        other = load_stored_dag(session, dag_id)
    except SluiceError:
        notes.append(f"{where} not followed: DAG '{dag_id}' is not in the database")
        return None
    other_run = run_at(session, dag_id, when)
    if other_run is None:
        notes.append(
            f"{where} not followed: DAG '{dag_id}' has no run at logical date {when.isoformat()}"
        )
        return None
    if not other.has_task(task_id):
        notes.append(f"{where} not followed: DAG '{dag_id}' has no task '{task_id}'")
        return None
    return other, other_run, task_id


def _render_marker(
    dag: SerializedDag, task: SerializedTask, run: DagRun
) -> tuple[str, str, datetime]:
    """The marker's external DAG id, task id and logical date, rendered in a context made
    of its run's dates (the DAG file is not imported: no user macros, no XCom)."""
    values = task.template_values
    env = make_environment(None)
    context = _run_context(dag, run)
    rendered = []
    for name in ("external_dag_id", "external_task_id", "logical_date"):
        value = values.get(name)
        if not isinstance(value, str):
            raise ValueError(f"its stored {name} is {value!r}, not text")
        rendered.append(str(render_template(value, context, env)).strip())
    dag_id, task_id, text = rendered
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"its logical_date rendered as {text!r}, not an ISO date") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # as pendulum.parse reads it in Airflow
    return dag_id, task_id, when.astimezone(UTC)


def _run_context(dag: SerializedDag, run: DagRun) -> dict[str, object]:
    """What a marker's templates may use: the run's dates, ids and params, and the
    macros."""
    logical = as_context_datetime(run.logical_date)
    conf = json.loads(run.conf or "{}")
    return {
        "params": dag.params_dict().resolve(conf if isinstance(conf, dict) else {}),
        "dag_id": dag.dag_id,
        "run_id": run.run_id,
        "logical_date": logical,
        "execution_date": logical,
        "ds": logical.strftime("%Y-%m-%d"),
        "ds_nodash": logical.strftime("%Y%m%d"),
        "ts": logical.isoformat(),
        "ts_nodash": logical.strftime("%Y%m%dT%H%M%S"),
        "ts_nodash_with_tz": logical.isoformat().replace("-", "").replace(":", ""),
        "data_interval_start": as_context_datetime(run.data_interval_start),
        "data_interval_end": as_context_datetime(run.data_interval_end),
        "macros": make_macros(),
    }


def mark_instance(
    session: Session, actor: Actor, ti: TaskInstance, state: TaskInstanceState
) -> None:
    """Mark one instance success, failed or skipped; the scheduler then moves its run on."""
    if state not in MARKABLE:
        raise ActionRefused(
            f"a task instance can be marked {', '.join(s.value for s in MARKABLE)}, not {state}"
        )
    if ti.state == state.value:
        raise ActionRefused(f"task instance {ti.task_id} is already {state.value}")
    transitions.set_state(session, ti, state)
    actor.record(
        session, f"tasks_mark_{state.value}", dag_id=ti.dag_id, run_id=ti.run_id,
        task_id=ti.task_id, map_index=ti.map_index,
    )  # fmt: skip
