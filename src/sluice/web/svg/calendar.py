"""The calendar: one cell per data interval (a day, or an hour), coloured by its run's
state, with the intervals that have no run hatched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import escape

from sluice.web.svg.axes import num

CELL = 13.0
GAP = 3.0
LEFT = 34.0
TOP = 18.0

RUN = "run"
MISSING = "missing"
NO_INTERVAL = "none"
"""Kinds of cell: an interval with its run, an interval without one, no interval there."""


@dataclass(frozen=True)
class CalendarCell:
    """One cell: its place, kind, fill (a run's state colour), tooltip, and the date it
    stands for (``YYYY-MM-DD``, what clicking it puts in the range inputs)."""

    column: int
    row: int
    kind: str
    color: str | None
    title: str
    day: str


def draw_calendar(
    cells: Sequence[CalendarCell],
    column_labels: Sequence[str],
    row_labels: Sequence[str],
) -> str:
    """The grid as one ``<svg>``: ``column_labels[i]`` over column i (empty: none)."""
    columns, rows = len(column_labels), len(row_labels)
    width = LEFT + columns * (CELL + GAP) + 8
    height = TOP + rows * (CELL + GAP) + 4
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="calendar" width="{num(width)}"'
        f' height="{num(height)}" viewBox="0 0 {num(width)} {num(height)}">',
        '<defs><pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse"'
        ' patternTransform="rotate(45)"><rect width="4" height="4" class="hatch-bg"/>'
        '<line x1="0" y1="0" x2="0" y2="4" class="hatch-line"/></pattern></defs>',
    ]
    for i, label in enumerate(column_labels):
        if label:
            x = LEFT + i * (CELL + GAP)
            out.append(f'<text class="tick" x="{num(x)}" y="11">{escape(label)}</text>')
    for j, label in enumerate(row_labels):
        if label:
            y = TOP + j * (CELL + GAP) + CELL - 2
            out.append(
                f'<text class="tick" x="{num(LEFT - 6)}" y="{num(y)}"'
                f' text-anchor="end">{escape(label)}</text>'
            )
    for cell in cells:
        x = LEFT + cell.column * (CELL + GAP)
        y = TOP + cell.row * (CELL + GAP)
        style = f' style="fill:{escape(cell.color)}"' if cell.kind == RUN and cell.color else ""
        out.append(
            f'<rect class="cell {escape(cell.kind)}" x="{num(x)}" y="{num(y)}"'
            f' width="{num(CELL)}" height="{num(CELL)}" rx="2"{style}'
            f' data-day="{escape(cell.day)}"><title>{escape(cell.title)}</title></rect>'
        )
    out.append("</svg>")
    return "".join(out)
