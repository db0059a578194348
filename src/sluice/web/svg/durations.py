"""Charts of durations over a DAG's last runs: one bar per run, one line per task."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import escape

from sluice.web.svg.axes import num, short_duration, ticks

HEIGHT = 220.0
LEFT = 56.0
TOP = 12.0
BOTTOM = 22.0
MIN_STEP = 14.0
PLOT_WIDTH = 880.0

PALETTE = (
    "#2563c9", "#d93a3a", "#2e9e44", "#e0b000", "#9b59d0", "#3cc3c3", "#f08c1e",
    "#e066b3", "#6b7385", "#8c564b", "#17becf", "#bcbd22",
)  # fmt: skip
"""Colours of the task lines, reused in turn."""


@dataclass(frozen=True)
class RunBar:
    """One run: how long it took (None: not finished), its state's colour, link, tooltip."""

    seconds: float | None
    color: str
    href: str | None
    title: str


@dataclass(frozen=True)
class Series:
    """One task's durations, one value per run (None: it did not run there)."""

    name: str
    values: Sequence[float | None]
    color: str


def _frame(count: int, highest: float) -> tuple[list[str], float, float, float]:
    """The y axis with its grid lines; returns (svg parts, width, x step, y scale)."""
    step = max(MIN_STEP, PLOT_WIDTH / max(count, 1))
    width = LEFT + step * count + 12
    marks = ticks(highest, 4)
    scale = (HEIGHT - TOP - BOTTOM) / max(marks[-1], 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="durations" width="{num(width)}"'
        f' height="{num(HEIGHT)}" viewBox="0 0 {num(width)} {num(HEIGHT)}">'
    ]
    for mark in marks:
        y = HEIGHT - BOTTOM - mark * scale
        parts.append(
            f'<line class="axis" x1="{num(LEFT)}" y1="{num(y)}" x2="{num(width - 8)}"'
            f' y2="{num(y)}"/><text class="tick" x="{num(LEFT - 6)}" y="{num(y + 4)}"'
            f' text-anchor="end">{escape(short_duration(mark))}</text>'
        )
    return parts, width, step, scale


def draw_run_durations(bars: Sequence[RunBar]) -> str:
    """Bars of run durations, oldest run on the left."""
    if not bars:
        return ""
    highest = max((b.seconds or 0.0 for b in bars), default=0.0)
    parts, _, step, scale = _frame(len(bars), highest)
    for i, bar in enumerate(bars):
        seconds = bar.seconds or 0.0
        height = max(1.0, seconds * scale)
        x = LEFT + i * step + step * 0.15
        rect = (
            f'<rect x="{num(x)}" y="{num(HEIGHT - BOTTOM - height)}" width="{num(step * 0.7)}"'
            f' height="{num(height)}" rx="2" style="fill:{escape(bar.color)}"/>'
        )
        if bar.href:
            rect = f'<a href="{escape(bar.href)}">{rect}</a>'
        parts.append(f"<g><title>{escape(bar.title)}</title>{rect}</g>")
    parts.append("</svg>")
    return "".join(parts)


def draw_task_durations(runs: int, series: Sequence[Series]) -> str:
    """One line per task across ``runs`` runs, oldest on the left; gaps where it did not run."""
    if not series or runs == 0:
        return ""
    highest = max((v for s in series for v in s.values if v is not None), default=0.0)
    parts, _, step, scale = _frame(runs, highest)
    for line in series:
        points: list[str] = []
        segments: list[list[str]] = [points]
        for i, value in enumerate(line.values):
            if value is None:
                points = []
                segments.append(points)
                continue
            x, y = LEFT + i * step + step / 2, HEIGHT - BOTTOM - value * scale
            points.append(f"{num(x)},{num(y)}")
            parts.append(
                f'<circle cx="{num(x)}" cy="{num(y)}" r="2.5" style="fill:{escape(line.color)}">'
                f"<title>{escape(line.name)}: {escape(short_duration(value))}</title></circle>"
            )
        for segment in segments:
            if len(segment) > 1:
                parts.append(
                    f'<polyline class="series" points="{" ".join(segment)}"'
                    f' style="stroke:{escape(line.color)}"><title>{escape(line.name)}</title>'
                    "</polyline>"
                )
    parts.append("</svg>")
    return "".join(parts)
