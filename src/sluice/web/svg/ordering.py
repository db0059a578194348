"""Ordering the vertices of a layered DAG: layers, dummy vertices, and crossing reduction.

A long edge becomes a chain of dummy vertices, one per layer it crosses. The order within
layers comes from barycenter sweeps down and up, each followed by swaps of neighbours
that remove crossings; the order with the fewest crossings wins. It is hierarchical: a
TaskGroup's members stay adjacent in each layer and sibling groups keep one order in all
layers, so that each group can be drawn as one rectangle.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from sluice.web.svg.shapes import (
    DUMMY_HEIGHT,
    NODE_HEIGHT,
    SWEEPS,
    LayoutGroup,
    LayoutNode,
    count_crossings,
    node_width,
)


@dataclass
class Vertex:
    """A task, or a dummy vertex of a long edge (an id starting with NUL), in a layer."""

    id: str
    layer: int
    path: tuple[str, ...]
    """The groups holding the vertex, outermost first."""
    width: float
    height: float
    dummy: bool

    @property
    def group(self) -> str | None:
        return self.path[-1] if self.path else None


@dataclass(frozen=True)
class Band:
    """A subgroup, as one item of its parent's rows."""

    group: str


Item = str | Band


class LayeredGraph:
    """The DAG as layers of vertices with the edges between adjacent layers, and the
    order of each layer (``order``) once ``order_layers`` has run."""

    def __init__(
        self,
        nodes: Sequence[LayoutNode],
        edges: list[tuple[str, str]],
        groups: Sequence[LayoutGroup],
    ) -> None:
        self.parent = {g.id: g.parent for g in groups}
        known_groups = set(self.parent)
        self.children: dict[str | None, list[str]] = defaultdict(list)
        for g in groups:
            self.children[g.parent if g.parent in known_groups else None].append(g.id)
        self.input_order = {n.id: i for i, n in enumerate(nodes)}
        self.edges = [
            (u, v) for u, v in dict.fromkeys(edges)
            if u in self.input_order and v in self.input_order and u != v
        ]  # fmt: skip
        layers = longest_path_layers([n.id for n in nodes], self.edges)
        self.v: dict[str, Vertex] = {
            n.id: Vertex(n.id, layers[n.id], self._path(n.group), node_width(n.label),
                          NODE_HEIGHT, dummy=False)
            for n in nodes
        }  # fmt: skip
        self.edges = [(u, v) for u, v in self.edges if layers[u] < layers[v]]
        self.up: dict[str, list[str]] = defaultdict(list)
        self.down: dict[str, list[str]] = defaultdict(list)
        self.chains: list[list[str]] = [self._chain(u, w) for u, w in self.edges]
        count = max((x.layer for x in self.v.values()), default=-1) + 1
        self.order: list[list[str]] = [[] for _ in range(count)]
        for vid in sorted(self.v, key=lambda x: self.input_order.get(x, len(self.input_order))):
            self.order[self.v[vid].layer].append(vid)
        self.rank: dict[str, float] = {}
        self.group_members: dict[str, list[str]] = defaultdict(list)
        for x in self.v.values():
            for holder in x.path:
                self.group_members[holder].append(x.id)

    def _path(self, group: str | None) -> tuple[str, ...]:
        path: list[str] = []
        while group is not None and group in self.parent and group not in path:
            path.append(group)
            group = self.parent[group]
        return tuple(reversed(path))

    def _chain(self, u: str, w: str) -> list[str]:
        """u, a dummy for each layer between, w; dummies sit in the lowest common group."""
        a, b = self.v[u].path, self.v[w].path
        common = 0
        while common < min(len(a), len(b)) and a[common] == b[common]:
            common += 1
        chain = [u]
        for layer in range(self.v[u].layer + 1, self.v[w].layer):
            dummy = f"\0{len(self.v)}"
            self.v[dummy] = Vertex(dummy, layer, a[:common], 0.0, DUMMY_HEIGHT, dummy=True)
            self.input_order[dummy] = self.input_order[u]
            chain.append(dummy)
        chain.append(w)
        for x, y in pairwise(chain):
            self.down[x].append(y)
            self.up[y].append(x)
        return chain

    # -- ordering ----------------------------------------------------------------------

    def _positions(self) -> dict[str, int]:
        return {vid: i for layer in self.order for i, vid in enumerate(layer)}

    def order_layers(self) -> None:
        """Order every layer, keeping the order with the fewest crossings found."""
        self._update_ranks()
        pos = self._positions()
        self.order = [
            self._arrange(layer, {x: float(pos[x]) for x in layer}) for layer in self.order
        ]
        best = (
            self._total_crossings(),
            [list(layer) for layer in self.order],
            dict(self.rank),
        )
        for sweep in range(SWEEPS):
            if best[0] == 0:
                break
            downward = sweep % 2 == 0
            indexes = range(1, len(self.order)) if downward else range(len(self.order) - 2, -1, -1)
            for n in indexes:
                pos = self._positions()
                neighbours = self.up if downward else self.down
                keys = {
                    x: (sum(pos[y] for y in neighbours[x]) / len(neighbours[x]))
                    if neighbours[x] else float(pos[x])
                    for x in self.order[n]
                }  # fmt: skip
                self.order[n] = self._arrange(self.order[n], keys)
            self._transpose()
            crossings = self._total_crossings()
            if crossings < best[0]:
                best = (crossings, [list(layer) for layer in self.order], dict(self.rank))
            self._update_ranks()
        self.order, self.rank = best[1], best[2]

    def _update_ranks(self) -> None:
        """Sibling groups' order, kept the same in every layer: their mean position."""
        pos = self._positions()
        for g, members in self.group_members.items():
            spots = [pos[m] / max(1, len(self.order[self.v[m].layer])) for m in members]
            self.rank[g] = sum(spots) / len(spots)

    def item_of(self, vid: str, depth: int) -> Item:
        path = self.v[vid].path
        return Band(path[depth]) if len(path) > depth else vid

    def _arrange(self, layer: list[str], keys: dict[str, float]) -> list[str]:
        """The layer's vertices sorted by ``keys``, each group's members kept together and
        sibling groups in rank order."""

        def level(vids: list[str], depth: int) -> list[str]:
            plain = sorted((x for x in vids if len(self.v[x].path) <= depth), key=keys.__getitem__)
            bands: dict[str, list[str]] = defaultdict(list)
            for x in vids:
                item = self.item_of(x, depth)
                if isinstance(item, Band):
                    bands[item.group].append(x)
            ordered = sorted(bands, key=lambda g: self.rank.get(g, 0.0))
            out: list[str] = []
            i = j = 0
            while i < len(plain) or j < len(ordered):
                members = bands[ordered[j]] if j < len(ordered) else []
                band_key = sum(keys[x] for x in members) / len(members) if members else 0.0
                if j >= len(ordered) or (i < len(plain) and keys[plain[i]] <= band_key):
                    out.append(plain[i])
                    i += 1
                else:
                    out.extend(level(members, depth + 1))
                    j += 1
            return out

        return level(layer, 0)

    def _transpose(self) -> None:
        """Swap neighbours (a vertex with a vertex or a group) while that removes crossings."""
        for _ in range(4):
            improved = False
            for n, layer in enumerate(self.order):
                pos = self._positions()
                new, changed = self._transpose_level(layer, 0, pos)
                if changed:
                    self.order[n] = new
                    improved = True
            if not improved:
                return

    def _transpose_level(
        self, vids: list[str], depth: int, pos: dict[str, int]
    ) -> tuple[list[str], bool]:
        blocks: list[tuple[Item, list[str]]] = []
        for x in vids:
            item = self.item_of(x, depth)
            if blocks and isinstance(item, Band) and blocks[-1][0] == item:
                blocks[-1][1].append(x)
            else:
                blocks.append((item, [x]))
        changed = False
        for i in range(len(blocks) - 1):
            (a, a_vids), (b, b_vids) = blocks[i], blocks[i + 1]
            if isinstance(a, Band) and isinstance(b, Band):
                continue  # sibling groups keep their order in every layer
            if self._cross(b_vids, a_vids, pos) < self._cross(a_vids, b_vids, pos):
                blocks[i], blocks[i + 1] = blocks[i + 1], blocks[i]
                changed = True
        out: list[str] = []
        for item, members in blocks:
            if isinstance(item, Band):
                inner, inner_changed = self._transpose_level(members, depth + 1, pos)
                out.extend(inner)
                changed = changed or inner_changed
            else:
                out.extend(members)
        return out, changed

    def _cross(self, first: list[str], second: list[str], pos: dict[str, int]) -> int:
        """Crossings between edges of ``first`` and of ``second`` if ``first`` comes first."""
        total = 0
        for neighbours in (self.up, self.down):
            ends_a = [pos[y] for x in first for y in neighbours[x]]
            ends_b = [pos[y] for x in second for y in neighbours[x]]
            total += sum(1 for p in ends_a for q in ends_b if p > q)
        return total

    def _total_crossings(self) -> int:
        pos = self._positions()
        total = 0
        for layer in self.order:
            total += count_crossings([(pos[u], pos[w]) for u in layer for w in self.down[u]])
        return total


def longest_path_layers(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Each id's layer: one more than its deepest upstream (roots: 0). Ids on a cycle
    go after the others, in one layer each."""
    downstream: dict[str, list[str]] = defaultdict(list)
    waiting = dict.fromkeys(ids, 0)
    for u, v in edges:
        downstream[u].append(v)
        waiting[v] += 1
    layer = dict.fromkeys(ids, 0)
    ready = [i for i in ids if waiting[i] == 0]
    done: set[str] = set()
    while ready:
        u = ready.pop()
        done.add(u)
        for v in downstream[u]:
            layer[v] = max(layer[v], layer[u] + 1)
            waiting[v] -= 1
            if waiting[v] == 0:
                ready.append(v)
    deepest = max((layer[i] for i in done), default=-1)
    for i in ids:
        if i not in done:
            deepest += 1
            layer[i] = deepest
    return layer
