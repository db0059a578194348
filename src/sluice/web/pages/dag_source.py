"""The Code and Details tabs: the DAG file as parsed, and every attribute of the DAG.

The file read is the one the stored DAG names (serialized_dag.fileloc), never a path
from the request.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

# Pygments ships no type information (and types-Pygments is not a dependency).
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from sluice.api.dag_files import read_dag_source
from sluice.api.deps import DbSession, Reader
from sluice.api.problems import ApiError
from sluice.parsing.serialized import SerializedDag
from sluice.web.pages.dag_header import header, load_dag
from sluice.web.rendering import render

router = APIRouter(include_in_schema=False)

MAX_SHOWN_BYTES = 2_000_000
"""Larger files are shown cut at this size (a DAG file that big is generated code, and
highlighting it takes seconds)."""


def _rules(style: str, scope: str = "") -> str:
    """A Pygments style's rules for ``.highlight`` only (its others would restyle every
    ``pre`` of the page), under ``scope``."""
    rules = HtmlFormatter(style=style).get_style_defs(".highlight").splitlines()
    return "\n".join(f"{scope} {rule}".strip() for rule in rules if rule.startswith(".highlight"))


PYGMENTS_CSS = Markup(
    _rules("default")
    + "\n@media (prefers-color-scheme: dark) {\n"
    + _rules("monokai", ':root:not([data-theme="light"])')
    + "\n}\n"
    + _rules("monokai", ':root[data-theme="dark"]')
)
"""Pygments' colours for the light and the dark theme, as the base stylesheet picks them."""


def _modified(path: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
    except OSError:
        return None


@router.get("/dags/{dag_id}/code")
def code(request: Request, dag_id: str, session: DbSession, user: Reader) -> Response:
    """The DAG file's source, syntax-highlighted, with line numbers."""
    stored = load_dag(session, dag_id)
    path = stored.serialized.fileloc
    html, cut = None, False
    try:
        source = read_dag_source(dag_id, path, MAX_SHOWN_BYTES)
    except ApiError:
        pass  # The page says the file is gone, and still shows when it was parsed.
    else:
        formatter = HtmlFormatter(cssclass="highlight", linenos="table")
        # Pygments escapes the source itself.
        html, cut = Markup(highlight(source.text, PythonLexer(), formatter)), source.cut
    modified = _modified(path)
    changed = modified is not None and modified > stored.serialized.updated_at
    context = {
        **header(stored, "code"),
        "path": path,
        "source": html,
        "cut": cut,
        "changed_since_parse": changed,
        "parsed_at": stored.serialized.updated_at,
        "pygments_css": PYGMENTS_CSS,
    }
    return render(request, "dag_code.html", context)


def _params(dag: SerializedDag) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "default": dump.get("default"),
            "has_default": dump.get("has_default", True),
            "description": dump.get("description"),
            "schema": dump.get("schema") or {},
        }
        for name, dump in dag.params.items()
    ]


@router.get("/dags/{dag_id}/details")
def details(request: Request, dag_id: str, session: DbSession, user: Reader) -> Response:
    """Every attribute of the DAG, its params and default_args, and each task's settings."""
    stored = load_dag(session, dag_id)
    dag = stored.dag
    context = {
        **header(stored, "details"),
        "params": _params(dag),
        "tasks": list(dag.tasks.values()),
        "serialized": stored.serialized,
    }
    return render(request, "dag_details.html", context)
