"""The Gantt chart of one run: a row per task instance try on a time axis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import escape

from sluice.web.svg.axes import num, short_duration, ticks

ROW = 22.0
BAR = 14.0
AXIS = 28.0
PLOT_WIDTH = 760.0
CHAR = 7.0
MAX_LABEL = 48


@dataclass(frozen=True)
class GanttBar:
    """One try: its label, when it ran (end: now while it runs), colour, link, tooltip."""

    label: str
    start: datetime
    end: datetime
    color: str
    href: str | None
    title: str


def _cut(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def draw_gantt(bars: Sequence[GanttBar]) -> str:
    """The chart as one ``<svg>``; bars in the given order, top to bottom."""
    if not bars:
        return ""
    label_width = min(MAX_LABEL, max(len(b.label) for b in bars)) * CHAR + 16
    origin = min(b.start for b in bars)
    span = max((max(b.end, b.start) - origin).total_seconds() for b in bars)
    marks = ticks(span, 8)
    scale = PLOT_WIDTH / max(marks[-1], 1.0)
    width = label_width + PLOT_WIDTH + 30
    height = AXIS + ROW * len(bars) + 8
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="{num(width)}"'
        f' height="{num(height)}" viewBox="0 0 {num(width)} {num(height)}">'
    ]
    for mark in marks:
        x = label_width + mark * scale
        out.append(
            f'<line class="axis" x1="{num(x)}" y1="{num(AXIS - 6)}" x2="{num(x)}"'
            f' y2="{num(height - 4)}"/><text class="tick" x="{num(x)}" y="{num(AXIS - 10)}"'
            f' text-anchor="middle">+{escape(short_duration(mark))}</text>'
        )
    for i, bar in enumerate(bars):
        y = AXIS + i * ROW
        x = label_width + (bar.start - origin).total_seconds() * scale
        length = max(2.0, (bar.end - bar.start).total_seconds() * scale)
        rect = (
            f'<rect x="{num(x)}" y="{num(y + (ROW - BAR) / 2)}" width="{num(length)}"'
            f' height="{num(BAR)}" rx="3" style="fill:{escape(bar.color)}"/>'
        )
        if bar.href:
            rect = f'<a href="{escape(bar.href)}">{rect}</a>'
        out.append(
            f'<g class="bar"><title>{escape(bar.title)}</title>'
            f'<text x="{num(label_width - 8)}" y="{num(y + ROW / 2 + 4)}"'
            f' text-anchor="end">{escape(_cut(bar.label))}</text>{rect}</g>'
        )
    out.append("</svg>")
    return "".join(out)
