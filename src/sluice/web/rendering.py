"""Rendering pages: the Jinja2 environment, its filters, and what every page gets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from sluice import __version__
from sluice.api.security import CurrentUser, csrf_token
from sluice.core.roles import Permission
from sluice.web.links import dag_url, instance_url, run_url

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
HTMX = "htmx-2.0.11.min.js"

STATE_COLORS = {
    "success": "#2e9e44",
    "failed": "#d93a3a",
    "running": "#4fc232",
    "queued": "#8c8c8c",
    "scheduled": "#c8a86b",
    "up_for_retry": "#e0b000",
    "up_for_reschedule": "#3cc3c3",
    "upstream_failed": "#f08c1e",
    "skipped": "#e066b3",
    "removed": "#c8c8c8",
    "restarting": "#9b59d0",
    "none": "transparent",
}
"""Airflow's state colours, a little deeper so that white text reads on them."""


def format_datetime(value: datetime | None, missing: str = "") -> str:
    """``2024-01-01 06:00:00 UTC``: seconds, no microseconds, in UTC."""
    if value is None:
        return missing
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_duration(seconds: float | None, missing: str = "") -> str:
    """``0.42 s``, ``3 min 05 s``, ``2 h 01 min``."""
    if seconds is None:
        return missing
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def state_color(state: str | None) -> str:
    """The colour of a state (no state: transparent)."""
    return STATE_COLORS.get(state or "none", "#777777")


def _pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.filters.update(
    dt=format_datetime, duration=format_duration, state_color=state_color, pretty=_pretty_json
)
templates.env.globals.update(
    version=__version__, htmx=HTMX, STATE_COLORS=STATE_COLORS, Permission=Permission,
    dag_url=dag_url, run_url=run_url, instance_url=instance_url,
)  # fmt: skip


def flash(request: Request, message: str, kind: str = "info") -> None:
    """A message shown at the top of the next page (``info``, ``success`` or ``error``)."""
    # A new list, so that the session sees the change and saves it.
    request.session["flash"] = [*request.session.get("flash", []), [kind, message]]


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """A page for the request's user, with the CSRF token, messages and navigation."""
    user: CurrentUser | None = getattr(request.state, "user", None)
    messages = request.session.pop("flash", []) if "session" in request.scope else []
    base = {
        "request": request,
        "user": user,
        "csrf_token": csrf_token(request) if "session" in request.scope else "",
        "messages": messages,
        "can": (lambda p: user is not None and user.can(p)),
    }
    return templates.TemplateResponse(
        request, template, {**base, **(context or {})}, status_code=status
    )


def redirect(url: str) -> RedirectResponse:
    """Go to ``url`` after a form was posted (303: the browser then GETs it)."""
    return RedirectResponse(url, status_code=303)


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    """An error as a page; a missing login goes to the login page instead."""
    if status == 401 and request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
    return render(request, "error.html", {"status": status, "title": title, "detail": detail},
                  status=status)  # fmt: skip


def _quote(path: str) -> str:
    return quote(path, safe="/")
