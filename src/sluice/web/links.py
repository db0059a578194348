"""The URLs of the UI's pages, built in one place, and where a form may send the user back.

Ids are quoted as single path segments: a run id holds ``:`` and ``+``, a task id in a
group holds ``.``, and nothing a DAG author writes may add a segment to a path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode


def segment(value: str) -> str:
    """``value`` as one path segment of a URL."""
    return quote(value, safe="")


def dag_url(dag_id: str, tab: str = "") -> str:
    """``/dags/<dag_id>``, or one tab of the DAG's page (``grid``, ``graph``, ...)."""
    base = f"/dags/{segment(dag_id)}"
    return f"{base}/{tab}" if tab else base


def run_url(dag_id: str, run_id: str) -> str:
    """The page of one run."""
    return f"{dag_url(dag_id)}/runs/{segment(run_id)}"


def instance_url(dag_id: str, run_id: str, task_id: str, suffix: str = "", **query: Any) -> str:
    """The page of a task instance (or ``suffix`` under it, such as ``/log``), with
    ``query`` in the given order; a None value, or a map index below 0 (an unmapped
    task), is left out."""
    path = f"{run_url(dag_id, run_id)}/tasks/{segment(task_id)}{suffix}"
    shown = {
        key: value
        for key, value in query.items()
        if value is not None and not (key == "map_index" and value < 0)
    }
    return f"{path}?{urlencode(shown)}" if shown else path


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this site, else ``default``: never an absolute or
    scheme-relative URL (an open redirect), nor one a browser would read as such."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(char) < 32 or ord(char) == 127 for char in target)
    ):
        return default
    return target
