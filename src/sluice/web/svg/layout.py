"""A layered (Sugiyama-style) layout of a DAG, left to right, with TaskGroups as boxes.

The steps of Sugiyama, Tagawa and Toda (1981):

1. layers: each task goes in the layer of its longest path from a root;
2. an edge that spans several layers becomes a chain of dummy vertices, one per layer
   it crosses, so that it is ordered (and routed) like the other edges;
3. order within layers: barycenter sweeps down and up, each followed by swaps of
   neighbours that remove crossings; the order with the fewest crossings wins. The
   order is hierarchical: a TaskGroup's members stay adjacent in every layer and sibling
   groups keep one order in all layers, so that each group is one rectangle;
4. coordinates: one column per layer; rows packed top down in nested bands (a group's
   band holds its members in every layer it spans), then each vertex is moved towards
   the middle of its neighbours within the room its band leaves it.

``ordering`` finds the order, ``placement`` the coordinates; ``graph`` draws them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sluice.web.svg.ordering import LayeredGraph
from sluice.web.svg.placement import Placement
from sluice.web.svg.shapes import (
    MAX_LABEL_CHARS,
    Box,
    EdgeRoute,
    Layout,
    LayoutGroup,
    LayoutNode,
    node_width,
)

__all__ = [
    "MAX_LABEL_CHARS",
    "Box",
    "EdgeRoute",
    "Layout",
    "LayoutGroup",
    "LayoutNode",
    "layout",
    "node_width",
]


def layout(
    nodes: Sequence[LayoutNode],
    edges: Iterable[tuple[str, str]],
    groups: Sequence[LayoutGroup] = (),
) -> Layout:
    """Lay ``nodes`` out in layers left to right; ``edges`` go from upstream to downstream.

    Edges naming unknown nodes, and edges that would go backwards (a cycle), are left out.
    """
    graph = LayeredGraph(nodes, list(edges), groups)
    graph.order_layers()
    return Placement(graph).layout()
