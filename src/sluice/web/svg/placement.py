"""Coordinates of an ordered layered DAG: a column per layer, rows in nested bands.

Rows are packed top down: a group's band holds its members in every layer it spans, and
its siblings' bands never overlap it; then each vertex moves towards the middle of its
neighbours within the room its band leaves it. Edges are routed through their dummies.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

from sluice.web.svg.ordering import Band, Item, LayeredGraph
from sluice.web.svg.shapes import (
    GROUP_HEADER,
    GROUP_PAD,
    GROUP_PAD_X,
    LAYER_GAP,
    MARGIN,
    MIN_NODE_WIDTH,
    REFINE_PASSES,
    ROW_GAP,
    Box,
    EdgeRoute,
    Layout,
)


class Placement:
    """Columns per layer and nested bands of rows; then the boxes and routes."""

    def __init__(self, graph: LayeredGraph) -> None:
        self.g = graph
        self.depth = max((len(x.path) for x in graph.v.values()), default=0)
        gap = LAYER_GAP + 2 * GROUP_PAD_X * self.depth
        self.col_left: list[float] = []
        self.col_width: list[float] = []
        x = MARGIN + GROUP_PAD_X * self.depth
        for layer in graph.order:
            width = max((graph.v[v].width for v in layer), default=MIN_NODE_WIDTH)
            self.col_left.append(x)
            self.col_width.append(width)
            x += width + gap
        self.span: dict[str, tuple[int, int]] = {}
        for g, members in graph.group_members.items():
            layers = [graph.v[m].layer for m in members]
            self.span[g] = (min(layers), max(layers))
        self.band_height: dict[str, float] = {}
        self.rows: dict[tuple[str | None, int], list[Item]] = {}
        self.top: dict[Item, float] = {}
        """Relative to the content top of the item's parent group, then absolute."""
        self.content_top: dict[str | None, float] = {}
        self.content_height: dict[str | None, float] = {}

    def layout(self) -> Layout:
        self._pack(None, 0)
        self._place(None, MARGIN)
        self._refine()
        return self._result()

    def _height(self, item: Item) -> float:
        if isinstance(item, Band):
            return self.band_height[item.group]
        return self.g.v[item].height

    def _rows_of(self, parent: str | None, depth: int) -> None:
        """Each layer's items of ``parent`` in order, its subgroups' bands included even in
        layers where the subgroup has no vertex but its box passes."""
        g = self.g
        first, last = self.span[parent] if parent is not None else (0, len(g.order) - 1)
        subgroups = [s for s in g.children[parent] if s in self.span]
        for n in range(first, last + 1):
            row: list[Item] = []
            for vid in g.order[n]:
                path = g.v[vid].path
                if parent is not None and (len(path) < depth or path[depth - 1] != parent):
                    continue
                item = g.item_of(vid, depth)
                if not row or row[-1] != item or not isinstance(item, Band):
                    row.append(item)
            for s in sorted(subgroups, key=lambda s: g.rank.get(s, 0.0)):
                band = Band(s)
                if band in row or not self.span[s][0] <= n <= self.span[s][1]:
                    continue
                row.insert(self._band_slot(row, s, n), band)
            self.rows[(parent, n)] = row

    def _band_slot(self, row: list[Item], group: str, layer: int) -> int:
        """Where a group's band goes in a layer where it has no vertex: between its
        sibling groups by rank, among the vertices by mean position."""
        g = self.g
        rank = g.rank.get(group, 0.0)
        low, high = 0, len(row)
        for i, item in enumerate(row):
            if isinstance(item, Band):
                if g.rank.get(item.group, 0.0) <= rank:
                    low = i + 1
                elif high == len(row):
                    high = i
        size = max(1, len(g.order[layer]))
        for i in range(low, high):
            item = row[i]
            if isinstance(item, str) and g.order[layer].index(item) / size > rank:
                return i
        return high

    def _pack(self, parent: str | None, depth: int) -> None:
        """Band heights bottom up, and each item's top within its parent's content."""
        for child in self.g.children[parent]:
            if child in self.span:
                self._pack(child, depth + 1)
        self._rows_of(parent, depth)
        after: dict[Item, list[Item]] = defaultdict(list)
        waiting: dict[Item, int] = defaultdict(int)
        items: dict[Item, None] = {}
        for (owner, _), row in self.rows.items():
            if owner != parent:
                continue
            for item in row:
                items[item] = None
            for a, b in pairwise(row):
                after[a].append(b)
                waiting[b] += 1
        ready = [item for item in items if waiting[item] == 0]
        top = dict.fromkeys(items, 0.0)
        while ready:
            item = ready.pop()
            for nxt in after[item]:
                top[nxt] = max(top[nxt], top[item] + self._height(item) + ROW_GAP)
                waiting[nxt] -= 1
                if waiting[nxt] == 0:
                    ready.append(nxt)
        self.top.update(top)
        height = max((top[i] + self._height(i) for i in items), default=0.0)
        self.content_height[parent] = height
        if parent is not None:
            self.band_height[parent] = GROUP_HEADER + 2 * GROUP_PAD + height

    def _place(self, parent: str | None, content_top: float) -> None:
        """Make tops absolute, from the outermost group in."""
        self.content_top[parent] = content_top
        for vid, vertex in self.g.v.items():
            if vertex.group == parent:
                self.top[vid] += content_top
        for child in self.g.children[parent]:
            if child in self.span:
                band = Band(child)
                self.top[band] += content_top
                self._place(child, self.top[band] + GROUP_HEADER + GROUP_PAD)

    def _refine(self) -> None:
        """Move each vertex towards the middle of its neighbours, within its room."""
        g = self.g
        layers = range(len(g.order))
        for sweep in range(REFINE_PASSES):
            for n in layers if sweep % 2 == 0 else reversed(layers):
                for (parent, layer), row in self.rows.items():
                    if layer == n:
                        self._refine_row(parent, row)

    def _refine_row(self, parent: str | None, row: list[Item]) -> None:
        g = self.g
        floor = self.content_top[parent]
        ceiling = floor + self.content_height[parent]
        for i, item in enumerate(row):
            if isinstance(item, Band):
                continue
            neighbours = g.up[item] + g.down[item]
            if not neighbours:
                continue
            height = g.v[item].height
            wanted = sum(self.top[y] + g.v[y].height / 2 for y in neighbours) / len(neighbours)
            low = floor if i == 0 else self.top[row[i - 1]] + self._height(row[i - 1]) + ROW_GAP
            high = (
                ceiling - height if i == len(row) - 1 else self.top[row[i + 1]] - ROW_GAP - height
            )
            if low <= high:
                self.top[item] = min(max(wanted - height / 2, low), high)

    def _result(self) -> Layout:
        g = self.g
        boxes: dict[str, Box] = {}
        for vid, vertex in g.v.items():
            n = vertex.layer
            left, width = self.col_left[n], self.col_width[n]
            if not vertex.dummy:
                left, width = left + (width - vertex.width) / 2, vertex.width
            boxes[vid] = Box(left, self.top[vid], width, vertex.height)
        groups: dict[str, Box] = {}

        def group_box(group: str) -> Box:
            first, last = self.span[group]
            left, right = self.col_left[first], self.col_left[last] + self.col_width[last]
            for child in g.children[group]:
                if child in self.span:
                    inner = group_box(child)
                    left, right = min(left, inner.x), max(right, inner.right)
            top = self.top[Band(group)]
            box = Box(left - GROUP_PAD_X, top, right - left + 2 * GROUP_PAD_X,
                      self.band_height[group])  # fmt: skip
            groups[group] = box
            return box

        for group in g.children[None]:
            if group in self.span:
                group_box(group)
        edges = [
            EdgeRoute(chain[0], chain[-1], _route([boxes[x] for x in chain])) for chain in g.chains
        ]
        everything = list(boxes.values()) + list(groups.values())
        width = max((b.right for b in everything), default=0.0) + MARGIN
        height = max((b.bottom for b in everything), default=0.0) + MARGIN
        nodes = {vid: box for vid, box in boxes.items() if not g.v[vid].dummy}
        links = [(u, w) for u, ws in g.down.items() for w in ws]
        return Layout(width, height, nodes, groups, edges, [list(x) for x in g.order], links)


def _route(chain: list[Box]) -> tuple[tuple[float, float], ...]:
    """Source's right side, each dummy's left and right, target's left side."""
    points = [(chain[0].right, chain[0].middle)]
    for dummy in chain[1:-1]:
        points += [(dummy.x, dummy.middle), (dummy.right, dummy.middle)]
    points.append((chain[-1].x, chain[-1].middle))
    return tuple(points)
