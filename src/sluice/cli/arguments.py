"""Argument parsing shared by commands: dates, JSON objects and the DAGs folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def parse_datetime(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """An ISO-8601 date or datetime; a naive one stays naive for the command to read in
    [core] default_timezone (``loading.in_default_timezone``), as Airflow does."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO-8601 date or datetime"
            " (for example 2024-01-31, 2024-01-31T06:00:00 or 2024-01-31T06:00:00+02:00)",
            ctx,
            param,
        ) from None
    return parsed


def parse_json_object(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """A JSON object given as text, such as a run's conf, as a dict."""
    if value is None:
        return None
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", ctx, param
        ) from None
    if not isinstance(data, dict):
        raise click.BadParameter(
            f"must be a JSON object such as '{{\"limit\": 10}}', not {_json_kind(data)}",
            ctx,
            param,
        )
    return data


def _json_kind(data: object) -> str:
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "a boolean"
    if isinstance(data, int | float):
        return "a number"
    if isinstance(data, str):
        return "a string"
    return "an array"


def logical_date_argument(*, required: bool) -> Callable[[F], F]:
    """The LOGICAL_DATE argument: an ISO date or datetime."""
    return click.argument(
        "logical_date",
        required=required,
        metavar="[LOGICAL_DATE]" if not required else None,
        callback=parse_datetime,
    )


def dags_folder_option(fn: F) -> F:
    """``--dags-folder PATH``: read DAGs from there instead of [core] dags_folder."""
    return click.option(
        "--dags-folder",
        "-S",
        type=click.Path(path_type=Path),
        default=None,
        help="Folder (or single file) to read DAGs from; overrides [core] dags_folder.",
    )(fn)


def conf_option(fn: F) -> F:
    """``--conf JSON``: the run's conf, a JSON object."""
    return click.option(
        "--conf",
        "-c",
        default=None,
        metavar="JSON",
        callback=parse_json_object,
        help="The run's conf as a JSON object, checked against the DAG's params.",
    )(fn)
