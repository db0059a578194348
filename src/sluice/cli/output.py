"""How commands print: Rich tables, JSON documents and tab-separated plain text.

Data goes to stdout; errors, warnings and progress of ``--output json`` go to stderr, so
that a script can always parse stdout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("table", "json", "plain")
# Without a terminal Rich would wrap tables at 80 columns; a pipe or a file wants whole lines.
_PIPE_WIDTH = 500


def output_option(*formats: str, default: str = "table") -> Callable[[F], F]:
    """The ``--output/-o`` option offering ``formats`` (all three by default)."""
    choices = formats or FORMATS
    meanings = {
        "table": "table: for people",
        "json": "json: one JSON document",
        "plain": "plain: tab-separated, no header",
    }
    return click.option(
        "--output",
        "-o",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="; ".join(meanings[c] for c in choices) + ".",
    )


def console(*, err: bool = False) -> Console:
    """A Rich console on the current stdout (or stderr), made per call for test runners."""
    out = Console(stderr=err, highlight=False, soft_wrap=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out = Console(stderr=err, highlight=False, soft_wrap=False, width=_PIPE_WIDTH)
    return out


def jsonable(value: Any) -> Any:
    """``value`` as JSON data: ISO-8601 datetimes with offset, durations in seconds."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        # A naive datetime in a DAG means UTC, as the scheduler reads it.
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return repr(value)


def print_json(data: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(jsonable(data), indent=2))


def cell(value: Any) -> str:
    """``value`` as the text of a table cell."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return str(jsonable(value))
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(jsonable(value))
    return str(value)


def print_rows(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    output: str,
    *,
    empty: str,
    title: str | None = None,
) -> None:
    """Print rows as a table, a JSON list (every key of each row) or tab-separated lines."""
    if output == "json":
        print_json(list(rows))
    elif output == "plain":
        for row in rows:
            click.echo("\t".join(_one_line(cell(row.get(c))) for c in columns))
    elif not rows:
        click.echo(empty)
    else:
        table = Table(*(c.replace("_", " ") for c in columns), title=title, title_justify="left")
        for row in rows:
            table.add_row(*(Text(cell(row.get(c))) for c in columns))
        console().print(table)


def print_mapping(data: Mapping[str, Any], output: str) -> None:
    """Print one object: a two-column table, a JSON object or ``key<TAB>value`` lines."""
    if output == "json":
        print_json(data)
    elif output == "plain":
        for key, value in data.items():
            click.echo(f"{key}\t{_one_line(cell(value))}")
    else:
        table = Table("attribute", "value", show_header=False)
        for key, value in data.items():
            table.add_row(Text(key, style="bold"), Text(cell(value)))
        console().print(table)


def warn(message: str) -> None:
    """A note for people on stderr (never mixed into data on stdout)."""
    click.secho(message, fg="yellow", err=True)


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
