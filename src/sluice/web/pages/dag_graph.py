"""The Graph tab's drawing: the DAG's layout (kept per DAG version) coloured by a run."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from markupsafe import Markup

from sluice.parsing.serialized import SerializedDag, SerializedTaskGroup
from sluice.store.dag_history import InstanceSummary, RunSummary
from sluice.web.links import instance_url
from sluice.web.pages.dag_header import StoredDag, color, worst_state
from sluice.web.svg.graph import NodeLook, draw_graph
from sluice.web.svg.layout import Layout, LayoutGroup, LayoutNode, layout

CACHED_LAYOUTS = 64
"""Layouts kept by (dag id, hash): a DAG's shape changes only when its file does."""

_layouts: dict[tuple[str, str], Layout] = {}


def dag_layout(stored: StoredDag) -> Layout:
    """The DAG's layout, computed once per version of the DAG."""
    key = (stored.dag_id, stored.serialized.dag_hash)
    found = _layouts.get(key)
    if found is None:
        found = _compute(stored.dag)
        if len(_layouts) >= CACHED_LAYOUTS:
            _layouts.clear()
        _layouts[key] = found
    return found


def _compute(dag: SerializedDag) -> Layout:
    nodes = [LayoutNode(t.task_id, t.label, t.group_id) for t in dag.tasks.values()]
    edges = [(t.task_id, d) for t in dag.tasks.values() for d in sorted(t.downstream_task_ids)]
    groups = [
        LayoutGroup(g.group_id, g.label or g.group_id, parent)
        for g, parent in _groups_with_parents(dag)
        if g.group_id
    ]
    return layout(nodes, edges, groups)


def _groups_with_parents(dag: SerializedDag) -> list[tuple[SerializedTaskGroup, str | None]]:
    """Every TaskGroup with the id of the group it is in (None: the DAG's root)."""
    out: list[tuple[SerializedTaskGroup, str | None]] = []
    todo = [dag.task_group]
    while todo:
        group = todo.pop()
        for _, child in group.children:
            if isinstance(child, SerializedTaskGroup):
                out.append((child, group.group_id))
                todo.append(child)
    return out


def graph_svg(
    stored: StoredDag, run: RunSummary | None, instances: Sequence[InstanceSummary]
) -> Markup:
    """The SVG of the DAG, each node a link to its instance in ``run`` (if any)."""
    dag = stored.dag
    states: dict[str, list[str | None]] = defaultdict(list)
    expanded: set[str] = set()
    for ti in instances:
        states[ti.task_id].append(ti.state)
        if ti.map_index >= 0:
            expanded.add(ti.task_id)
    looks: dict[str, NodeLook] = {}
    for task_id, task in dag.tasks.items():
        found = states.get(task_id)
        state = worst_state(found) if found else None
        mapped = f", {len(found)} mapped instances" if task_id in expanded and found else ""
        title = f"{task_id}\n{task.operator}\nstate: {state or 'no status'}{mapped}"
        href = None
        if run is not None and found:
            href = instance_url(
                dag.dag_id, run.run_id, task_id, map_index=0 if task_id in expanded else None
            )
        looks[task_id] = NodeLook(task.label, color(state), href, title)
    group_labels = {g.group_id: g.label or g.group_id for g in dag.task_group.iter_groups()
                    if g.group_id}  # fmt: skip
    group_titles = {g.group_id: g.tooltip or g.group_id for g in dag.task_group.iter_groups()
                    if g.group_id}  # fmt: skip
    # Every text in the drawing went through markupsafe.escape.
    return Markup(draw_graph(dag_layout(stored), looks, group_labels, group_titles))
