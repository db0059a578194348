"""What a layout is made of: the nodes and groups given, and the boxes and routes found."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

NODE_HEIGHT = 32.0
DUMMY_HEIGHT = 2.0
ROW_GAP = 14.0
GROUP_HEADER = 18.0
GROUP_PAD = 8.0
GROUP_PAD_X = 12.0
LAYER_GAP = 56.0
MARGIN = 12.0
CHAR_WIDTH = 7.2
MIN_NODE_WIDTH = 60.0
MAX_LABEL_CHARS = 32
SWEEPS = 8
REFINE_PASSES = 6


@dataclass(frozen=True)
class LayoutNode:
    """A task to place: its id, the label drawn, and its innermost TaskGroup."""

    id: str
    label: str
    group: str | None = None


@dataclass(frozen=True)
class LayoutGroup:
    """A TaskGroup: its id, label, and the group it is nested in."""

    id: str
    label: str
    parent: str | None = None


@dataclass(frozen=True)
class Box:
    """A rectangle, from its top left corner."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    @property
    def middle(self) -> float:
        return self.y + self.height / 2

    def contains(self, other: Box) -> bool:
        """Whether ``other`` lies inside this box (edges may touch)."""
        return (
            self.x <= other.x
            and self.y <= other.y
            and other.right <= self.right
            and other.bottom <= self.bottom
        )


@dataclass(frozen=True)
class EdgeRoute:
    """Where an edge goes: the source's right side, each dummy's left and right, the
    target's left side."""

    source: str
    target: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Layout:
    """Boxes of the nodes and groups, the edges' routes, and the order found."""

    width: float
    height: float
    nodes: dict[str, Box]
    groups: dict[str, Box]
    edges: list[EdgeRoute]
    layers: list[list[str]]
    """Vertex ids of each layer, top to bottom, dummies (ids starting with NUL) included."""
    links: list[tuple[str, str]]
    """Vertex edges, each between adjacent layers."""

    def crossings(self) -> int:
        """How many pairs of edges cross between adjacent layers."""
        pos = {v: i for layer in self.layers for i, v in enumerate(layer)}
        layer_of = {v: n for n, layer in enumerate(self.layers) for v in layer}
        by_layer: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for u, w in self.links:
            by_layer[layer_of[u]].append((pos[u], pos[w]))
        return sum(count_crossings(pairs) for pairs in by_layer.values())


def node_width(label: str) -> float:
    """The width of a node drawn with ``label`` (long labels are cut)."""
    return max(MIN_NODE_WIDTH, min(len(label), MAX_LABEL_CHARS) * CHAR_WIDTH + 24)


def count_crossings(pairs: list[tuple[int, int]]) -> int:
    """Crossings among edges given as (upper position, lower position): the inversions of
    the lower positions once the pairs are sorted."""
    lower = [w for _, w in sorted(pairs)]
    return _inversions(lower)


def _inversions(values: list[int]) -> int:
    if len(values) < 2:
        return 0
    middle = len(values) // 2
    left, right = values[:middle], values[middle:]
    count = _inversions(left) + _inversions(right)
    left.sort()
    right.sort()
    j = 0
    for value in left:
        while j < len(right) and right[j] < value:
            j += 1
        count += j
    return count
