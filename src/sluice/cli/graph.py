"""A DAG's graph as an indented tree or as Graphviz DOT, for ``dags show`` and ``tasks list``."""

from __future__ import annotations

from sluice.sdk.dag import DAG
from sluice.sdk.mapping import MappedOperator
from sluice.sdk.operator import AbstractOperator
from sluice.sdk.taskgroup import TaskGroup

_BRANCH, _LAST = "├── ", "└── "
_PIPE, _BLANK = "│   ", "    "


def operator_name(task: AbstractOperator) -> str:
    """The operator class of a task, mapped or not."""
    if isinstance(task, MappedOperator):
        return task.operator_class.__name__
    return type(task).__name__


def group_id(task: AbstractOperator) -> str | None:
    """The full id of the task's TaskGroup, or None at the DAG's top level."""
    return task.task_group.group_id if task.task_group is not None else None


def tree_lines(dag: DAG) -> list[str]:
    """The tasks as a tree from the roots; a task reached twice is printed once in full."""
    lines: list[str] = []
    seen: set[str] = set()
    # (task, prefix of its line, prefix of its children's lines), depth first; a stack, not
    # recursion, so that a chain of thousands of tasks prints too.
    stack: list[tuple[AbstractOperator, str, str]] = [(r, "", "") for r in reversed(dag.roots)]
    while stack:
        task, prefix, child_prefix = stack.pop()
        repeated = task.task_id in seen
        lines.append(prefix + _describe(task) + (" (see above)" if repeated else ""))
        if repeated:
            continue
        seen.add(task.task_id)
        children = task.downstream_list
        for index in reversed(range(len(children))):
            last = index == len(children) - 1
            stack.append(
                (
                    children[index],
                    child_prefix + (_LAST if last else _BRANCH),
                    child_prefix + (_BLANK if last else _PIPE),
                )
            )
    return lines


def _describe(task: AbstractOperator) -> str:
    notes = [operator_name(task)]
    if task.is_mapped:
        notes.append("mapped")
    group = group_id(task)
    if group:
        notes.append(f"group {group}")
    return f"{task.task_id} <{', '.join(notes)}>"


def to_dot(dag: DAG) -> str:
    """The DAG as a Graphviz digraph: one cluster per TaskGroup, every id quoted."""
    lines = [
        f"digraph {_quote(dag.dag_id)} {{",
        "  rankdir=LR;",
        f"  label={_quote(dag.dag_id)};",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
    ]
    _emit_group(dag.task_group, "  ", lines)
    for task in dag.tasks:
        for down in sorted(task.downstream_task_ids):
            lines.append(f"  {_quote(task.task_id)} -> {_quote(down)};")
    lines.append("}")
    return "\n".join(lines)


def _emit_group(group: TaskGroup, indent: str, lines: list[str]) -> None:
    for child in group.children.values():
        if isinstance(child, TaskGroup):
            full = child.group_id or ""
            lines.append(f"{indent}subgraph {_quote('cluster_' + full)} {{")
            lines.append(f"{indent}  label={_quote(child.label or full)};")
            lines.append(f'{indent}  style="rounded,filled"; fillcolor="#eef3fb";')
            _emit_group(child, indent + "  ", lines)
            lines.append(f"{indent}}}")
        else:
            label = child.label + (" [mapped]" if child.is_mapped else "")
            colour = _colour(child)
            lines.append(
                f"{indent}{_quote(child.task_id)} "
                f"[label={_quote(label)}, fillcolor={_quote(colour)}];"
            )


def _colour(task: AbstractOperator) -> str:
    operator = task.operator_class if isinstance(task, MappedOperator) else type(task)
    return str(getattr(operator, "ui_color", "#fff"))


def _quote(text: str) -> str:
    """A DOT quoted string: backslashes and double quotes escaped, newlines as \\n."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
