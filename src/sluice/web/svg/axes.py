"""Axes shared by the charts: round tick steps for seconds, and short duration labels."""

from __future__ import annotations

STEPS = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
    86400, 172800, 604800,
)  # fmt: skip
"""Tick steps in seconds, each a duration people count in."""


def tick_step(span: float, ticks: int = 6) -> float:
    """A round step that cuts ``span`` seconds into about ``ticks`` parts."""
    for step in STEPS:
        if span / step <= ticks:
            return float(step)
    return float(STEPS[-1] * max(1, round(span / STEPS[-1] / ticks)))


def ticks(span: float, count: int = 6) -> list[float]:
    """Tick positions in seconds from 0 to at least ``span``."""
    step = tick_step(max(span, 1.0), count)
    out = [0.0]
    while out[-1] < span:
        out.append(out[-1] + step)
    return out


def short_duration(seconds: float) -> str:
    """``45s``, ``2m30s``, ``1h05m``, ``2d3h``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


def num(value: float) -> str:
    """A coordinate with at most one decimal."""
    return f"{value:.1f}".rstrip("0").rstrip(".")
