"""Drawing a laid-out DAG: groups as labelled boxes, smooth edges with arrowheads, and
nodes coloured by state, each a link to its task instance."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from markupsafe import escape

from sluice.web.svg.layout import MAX_LABEL_CHARS, Layout


@dataclass(frozen=True)
class NodeLook:
    """What a node shows: its label, its state's colour, where it links, its tooltip."""

    label: str
    color: str
    href: str | None
    title: str


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def edge_path(points: tuple[tuple[float, float], ...]) -> str:
    """An SVG path through ``points``: curves between layers, straight through a layer."""
    (x, y), rest = points[0], points[1:]
    parts = [f"M{_n(x)},{_n(y)}"]
    for i, (nx, ny) in enumerate(rest):
        if i % 2 == 1:  # across a dummy: the edge runs straight through the column
            parts.append(f"L{_n(nx)},{_n(ny)}")
        else:
            bend = (nx - x) / 2
            parts.append(f"C{_n(x + bend)},{_n(y)} {_n(nx - bend)},{_n(ny)} {_n(nx)},{_n(ny)}")
        x, y = nx, ny
    return " ".join(parts)


def draw_graph(
    layout: Layout,
    looks: Mapping[str, NodeLook],
    group_labels: Mapping[str, str],
    group_titles: Mapping[str, str] | None = None,
) -> str:
    """The whole drawing as one ``<svg>`` element."""
    titles = group_titles or {}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dag-graph" role="img"'
        f' width="{_n(layout.width)}" height="{_n(layout.height)}"'
        f' viewBox="0 0 {_n(layout.width)} {_n(layout.height)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"'
        ' markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"'
        ' class="arrowhead"/></marker></defs>',
    ]
    # Outer groups first, so that inner boxes are drawn over them.
    for group_id, box in sorted(
        layout.groups.items(), key=lambda item: item[1].width, reverse=True
    ):
        label = group_labels.get(group_id, group_id)
        out.append(
            f'<g class="group"><title>{escape(titles.get(group_id) or label)}</title>'
            f'<rect x="{_n(box.x)}" y="{_n(box.y)}" width="{_n(box.width)}"'
            f' height="{_n(box.height)}" rx="6"/>'
            f'<text x="{_n(box.x + 8)}" y="{_n(box.y + 13)}">{escape(_label(label))}</text></g>'
        )
    for edge in layout.edges:
        out.append(
            f'<path class="edge" d="{edge_path(edge.points)}" marker-end="url(#arrow)">'
            f"<title>{escape(edge.source)} → {escape(edge.target)}</title></path>"
        )
    for node_id, box in layout.nodes.items():
        look = looks.get(node_id, NodeLook(node_id, "transparent", None, node_id))
        node = (
            f'<g class="node"><title>{escape(look.title)}</title>'
            f'<rect x="{_n(box.x)}" y="{_n(box.y)}" width="{_n(box.width)}"'
            f' height="{_n(box.height)}" rx="5" style="stroke:{escape(look.color)}"/>'
            f'<rect class="state-bar" x="{_n(box.x)}" y="{_n(box.y)}" width="6"'
            f' height="{_n(box.height)}" rx="2" style="fill:{escape(look.color)}"/>'
            f'<text x="{_n(box.x + box.width / 2 + 3)}" y="{_n(box.middle + 4)}"'
            f' text-anchor="middle">{escape(_label(look.label))}</text></g>'
        )
        if look.href:
            node = f'<a href="{escape(look.href)}">{node}</a>'
        out.append(node)
    out.append("</svg>")
    return "".join(out)
