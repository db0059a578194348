"""The layered layout: no crossings where none are needed, everything inside the drawing,
TaskGroups' boxes around their members; and the SVG drawings escape their text."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from sluice.web.svg.calendar import MISSING, RUN, CalendarCell, draw_calendar
from sluice.web.svg.durations import RunBar, Series, draw_run_durations, draw_task_durations
from sluice.web.svg.gantt import GanttBar, draw_gantt
from sluice.web.svg.graph import NodeLook, draw_graph, edge_path
from sluice.web.svg.layout import Layout, LayoutGroup, LayoutNode, layout

Edges = list[tuple[str, str]]


def nodes(*ids: str, group: str | None = None) -> list[LayoutNode]:
    return [LayoutNode(i, i, group) for i in ids]


def check_drawing(result: Layout) -> None:
    """Every node and group inside the drawing; no two nodes overlap."""
    for box in [*result.nodes.values(), *result.groups.values()]:
        assert box.x >= 0 and box.right <= result.width
        assert box.y >= 0 and box.bottom <= result.height
    boxes = list(result.nodes.values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a.right <= b.x or b.right <= a.x or a.bottom <= b.y or b.bottom <= a.y
            assert apart, (a, b)


def test_diamond() -> None:
    result = layout(nodes("a", "b", "c", "d"), [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    assert result.crossings() == 0
    check_drawing(result)
    assert [len(layer) for layer in result.layers] == [1, 2, 1]
    # Left to right: each edge goes right.
    for edge in result.edges:
        assert edge.points[0][0] < edge.points[-1][0]
    # The middle of the diamond lines up with the middle of its branches.
    b, c, a = result.nodes["b"], result.nodes["c"], result.nodes["a"]
    assert a.middle == pytest.approx((b.middle + c.middle) / 2)


def test_two_independent_chains_do_not_cross() -> None:
    # Given interleaved, so that input order alone would cross them.
    ids = ["a1", "b1", "b2", "a2", "a3", "b3"]
    edges = [("a1", "a2"), ("a2", "a3"), ("b1", "b2"), ("b2", "b3")]
    result = layout(nodes(*ids), edges)
    assert result.crossings() == 0
    check_drawing(result)


def test_fan_out_fan_in_with_a_long_edge() -> None:
    middle = [f"m{i}" for i in range(6)]
    edges = [("start", m) for m in middle] + [(m, "end") for m in middle] + [("start", "end")]
    edges += [("m0", "x"), ("x", "end")]
    result = layout(nodes("start", *middle, "x", "end"), edges)
    assert result.crossings() == 0
    check_drawing(result)
    # start >> end spans three layers: it is routed through dummies, left to right.
    [long] = [e for e in result.edges if (e.source, e.target) == ("start", "end")]
    assert len(long.points) == 2 + 2 * 2
    xs = [x for x, _ in long.points]
    assert xs == sorted(xs)


def layered_dag(layers: int, width: int, seed: int) -> tuple[list[LayoutNode], Edges]:
    """``layers`` layers of ``width`` tasks; task j feeds j and j+1 of the next layer (a
    ladder, which has a drawing without crossings), given in shuffled order."""
    ids = [[f"t{layer}_{j}" for j in range(width)] for layer in range(layers)]
    edges = [
        (ids[layer][j], ids[layer + 1][k])
        for layer in range(layers - 1)
        for j in range(width)
        for k in (j, j + 1)
        if k < width
    ]
    flat = [i for row in ids for i in row]
    random.Random(seed).shuffle(flat)
    return nodes(*flat), edges


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fifty_tasks_in_layers_without_crossings(seed: int) -> None:
    tasks, edges = layered_dag(10, 5, seed)
    result = layout(tasks, edges)
    assert len(result.nodes) == 50
    assert result.crossings() == 0
    check_drawing(result)


def test_groups_keep_their_members_in_their_box() -> None:
    # start >> extract(orders, customers) >> transform(clean >> quality(a, b) >> publish) >> end
    tasks = [
        *nodes("start", "end"),
        *nodes("extract.orders", "extract.customers", group="extract"),
        *nodes("transform.clean", "transform.publish", group="transform"),
        *nodes("transform.quality.a", "transform.quality.b", group="transform.quality"),
    ]
    groups = [
        LayoutGroup("extract", "extract"),
        LayoutGroup("transform", "transform"),
        LayoutGroup("transform.quality", "quality", parent="transform"),
    ]
    edges = [
        ("start", "extract.orders"), ("start", "extract.customers"),
        ("extract.orders", "transform.clean"), ("extract.customers", "transform.clean"),
        ("transform.clean", "transform.quality.a"), ("transform.clean", "transform.quality.b"),
        ("transform.quality.a", "transform.publish"), ("transform.quality.b", "transform.publish"),
        ("transform.publish", "end"),
    ]  # fmt: skip
    result = layout(tasks, edges, groups)
    assert result.crossings() == 0
    check_drawing(result)
    for task in tasks:
        holders = [g for g in groups if task.id.startswith(g.id + ".")]
        for group in holders:
            assert result.groups[group.id].contains(result.nodes[task.id]), (group, task)
        for other in set(result.groups) - {g.id for g in holders}:
            box, node = result.groups[other], result.nodes[task.id]
            outside = (
                node.right <= box.x
                or box.right <= node.x
                or node.bottom <= box.y
                or box.bottom <= node.y
            )
            assert outside, (other, task.id)
    assert result.groups["transform"].contains(result.groups["transform.quality"])


def test_groups_stay_apart_when_they_share_layers() -> None:
    # Two groups side by side in the same layers, with outside tasks between them.
    tasks = [
        *nodes("g1.a", "g1.b", group="g1"),
        *nodes("g2.a", "g2.b", group="g2"),
        *nodes("x", "y", "z"),
    ]
    groups = [LayoutGroup("g1", "g1"), LayoutGroup("g2", "g2")]
    edges = [("x", "g1.a"), ("g1.a", "g1.b"), ("y", "g2.a"), ("g2.a", "g2.b"), ("g1.b", "z"),
             ("g2.b", "z"), ("x", "z")]  # fmt: skip
    result = layout(tasks, edges, groups)
    check_drawing(result)
    one, two = result.groups["g1"], result.groups["g2"]
    assert one.bottom <= two.y or two.bottom <= one.y
    for task in ("x", "y", "z"):
        node = result.nodes[task]
        for box in (one, two):
            assert (
                node.right <= box.x
                or box.right <= node.x
                or node.bottom <= box.y
                or box.bottom <= node.y
            )


def test_unknown_edges_and_cycles_are_left_out() -> None:
    result = layout(nodes("a", "b"), [("a", "b"), ("b", "a"), ("a", "ghost")])
    assert set(result.nodes) == {"a", "b"}
    assert len(result.edges) == 1
    empty = layout([], [])
    assert empty.nodes == {} and empty.crossings() == 0


def test_a_thousand_tasks_lay_out() -> None:
    tasks, edges = layered_dag(40, 25, 7)
    result = layout(tasks, edges)
    assert len(result.nodes) == 1000
    check_drawing(result)


def test_graph_drawing_escapes_labels_and_links() -> None:
    evil = '<script>alert("x")</script>'
    result = layout([LayoutNode(evil, evil, "g")], [], [LayoutGroup("g", "<b>g</b>")])
    svg = draw_graph(
        result,
        {evil: NodeLook(evil, "#fff", '/x?a=1&b="2"', evil)},
        {"g": "<b>g</b>"},
    )
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg
    assert 'href="/x?a=1&amp;b=&#34;2&#34;"' in svg
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert edge_path(((0, 0), (10, 10))) == "M0,0 C5,0 5,10 10,10"


def test_charts_escape_their_text() -> None:
    evil = "<img src=x onerror=alert(1)>"
    start = datetime(2024, 1, 1, tzinfo=UTC)
    gantt = draw_gantt([GanttBar(evil, start, start + timedelta(minutes=3), "#2e9e44", None, evil)])
    bars = draw_run_durations(
        [RunBar(12.0, "#2e9e44", "/r", evil), RunBar(None, "#8c8c8c", None, "x")]
    )
    lines = draw_task_durations(2, [Series(evil, [1.0, None], "#000")])
    calendar = draw_calendar(
        [CalendarCell(0, 0, RUN, "#2e9e44", evil, "2024-01-01"),
         CalendarCell(1, 0, MISSING, None, "missing", "2024-01-08")],
        ["Jan", ""],
        ["Mon"],
    )  # fmt: skip
    for svg in (gantt, bars, lines, calendar):
        assert "<img" not in svg
        assert svg.startswith("<svg")
    assert "&lt;img" in gantt and "&lt;img" in calendar
    assert 'class="cell missing"' in calendar
    assert draw_gantt([]) == "" and draw_run_durations([]) == ""
