"""The grid: a DAG's last runs as columns and its tasks as rows, grouped by TaskGroup.

Built from the serialized DAG, the runs, and all their task instances (one query); a
mapped task is one row whose cells count its instances.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sluice.parsing.serialized import SerializedDag, SerializedTaskGroup
from sluice.store.dag_history import InstanceSummary, RunSummary
from sluice.web.links import run_url, segment
from sluice.web.pages.dag_header import color, worst_state
from sluice.web.rendering import format_datetime, format_duration

MIN_BAR, MAX_BAR = 6, 40
"""Heights of the runs' bars over the grid, in pixels."""


@dataclass(frozen=True)
class GridCell:
    """One task (or group) in one run."""

    state: str | None
    css: str
    """``s-<state>``: the class that colours the cell."""
    title: str
    href: str | None
    count: int | None = None
    """For a mapped task: how many instances it has in the run."""


@dataclass(frozen=True)
class GridColumn:
    """One run: its header bar."""

    run: RunSummary
    color: str
    href: str
    title: str
    height: int
    """Of the run's bar, in pixels: longer runs, taller bars."""


@dataclass
class GridRow:
    """A task or a TaskGroup, with a cell per run (None: no instance in that run)."""

    kind: str
    """``task`` or ``group``."""
    id: str
    label: str
    depth: int
    groups: list[str]
    """Ids of the groups that hold the row, outermost first (to collapse them)."""
    mapped: bool = False
    cells: list[GridCell | None] = field(default_factory=list)


def grid_columns(dag_id: str, runs: Sequence[RunSummary]) -> list[GridColumn]:
    """The header of each run's column."""
    longest = max((run.duration or 0.0 for run in runs), default=0.0) or 1.0
    return [
        GridColumn(
            run,
            color(run.state),
            run_url(dag_id, run.run_id),
            f"{run.run_id}\nstate: {run.state}\ntype: {run.run_type}"
            f"\nlogical date: {format_datetime(run.logical_date)}"
            f"\nduration: {format_duration(run.duration, 'not finished')}",
            MIN_BAR + round((MAX_BAR - MIN_BAR) * (run.duration or 0.0) / longest),
        )
        for run in runs
    ]


def build_grid(
    dag: SerializedDag, runs: Sequence[RunSummary], instances: Sequence[InstanceSummary]
) -> list[GridRow]:
    """The rows: each group followed by its members, in the DAG's (topological) order."""
    by_key: dict[tuple[str, str], list[InstanceSummary]] = defaultdict(list)
    for ti in instances:
        by_key[(ti.task_id, ti.run_id)].append(ti)
    order = {task_id: i for i, task_id in enumerate(dag.tasks)}
    # URLs of a 50 x 25 grid: quote each run id and task id once, not per cell.
    run_prefix = {run.run_id: run_url(dag.dag_id, run.run_id) + "/tasks/" for run in runs}
    rows: list[GridRow] = []

    def first(group: SerializedTaskGroup) -> int:
        return min((order.get(t, len(order)) for t in group.iter_task_ids()), default=len(order))

    def walk(group: SerializedTaskGroup, depth: int, holders: list[str]) -> None:
        children = sorted(
            group.children,
            key=lambda c: first(c[1]) if isinstance(c[1], SerializedTaskGroup)
            else order.get(c[1], len(order)),
        )  # fmt: skip
        for _, child in children:
            if isinstance(child, SerializedTaskGroup):
                group_id = child.group_id or ""
                members = list(child.iter_task_ids())
                row = GridRow("group", group_id, child.label or group_id, depth, list(holders))
                row.cells = [_group_cell(group_id, members, run, by_key) for run in runs]
                rows.append(row)
                walk(child, depth + 1, [*holders, group_id])
            elif child in dag.tasks:
                task = dag.tasks[child]
                row = GridRow("task", child, task.label, depth, list(holders), task.is_mapped)
                quoted = segment(child)
                row.cells = [
                    _task_cell(child, run_prefix[run.run_id] + quoted,
                               by_key.get((child, run.run_id), []))
                    for run in runs
                ]  # fmt: skip
                rows.append(row)

    walk(dag.task_group, 0, [])
    return rows


def _task_cell(task_id: str, href: str, instances: list[InstanceSummary]) -> GridCell | None:
    if not instances:
        return None
    mapped = [ti for ti in instances if ti.map_index >= 0]
    if not mapped:
        ti = instances[0]
        title = (
            f"{task_id}: {ti.state or 'no status'}\ntry {ti.try_number}"
            f" · {format_duration(ti.duration, 'not run')}"
        )
        return GridCell(ti.state, state_class(ti.state), title, href)
    counts = Counter(ti.state for ti in mapped)
    state = worst_state(counts)
    total = len(mapped)
    lines = [f"{n}/{total} {s or 'no status'}" for s, n in counts.most_common()]
    title = f"{task_id} (mapped, {total} instances)\n" + "\n".join(lines)
    return GridCell(state, state_class(state), title, f"{href}?map_index=0", count=total)


def _group_cell(
    group_id: str,
    members: list[str],
    run: RunSummary,
    by_key: dict[tuple[str, str], list[InstanceSummary]],
) -> GridCell | None:
    states = [ti.state for task_id in members for ti in by_key.get((task_id, run.run_id), [])]
    if not states:
        return None
    counts = Counter(states)
    state = worst_state(counts)
    lines = [f"{n} {s or 'no status'}" for s, n in counts.most_common()]
    title = f"group {group_id}\n" + "\n".join(lines)
    return GridCell(state, state_class(state), title, None)


def state_class(state: str | None) -> str:
    """The CSS class that colours a cell (``dag_grid.html`` defines one per state)."""
    return f"s-{state or 'none'}"
