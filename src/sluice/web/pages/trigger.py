"""Triggering a DAG run from a form built from the DAG's params.

Each param becomes a typed field (its JSON Schema type, enum, default and description);
a raw JSON conf box adds keys and overrides fields. The form is checked param by param,
so that each error shows next to its field, and sent back with what the user typed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from sluice.actions.common import ActionRefused, load_stored_dag
from sluice.actions.runs import check_run_id, trigger_run
from sluice.api.deps import DbSession, Operator
from sluice.core.errors import ParamValidationError
from sluice.parsing.serialized import SerializedDag
from sluice.sdk.params import NOTSET, Param
from sluice.store.run_queries import get_dag
from sluice.web.links import dag_url
from sluice.web.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)

FIELD_PREFIX = "param."
JSON_KINDS = ("array", "object", "json")


@dataclass
class ParamField:
    """One param as a form field: what it shows and, after a post, what was typed."""

    name: str
    kind: str
    """string, integer, number, boolean, enum, array, object or json (any JSON)."""
    label: str
    description: str | None
    nullable: bool
    text: str = ""
    """The field's value as the form shows it."""
    options: list[tuple[str, str]] = field(default_factory=list)
    """For an enum: (JSON of the value, label)."""
    error: str = ""
    schema: dict[str, Any] = field(default_factory=dict)

    @property
    def form_name(self) -> str:
        """The name of the form input."""
        return FIELD_PREFIX + self.name


def _types(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    return [str(k) for k in kind] if isinstance(kind, list) else []


def _kind(dump: Mapping[str, Any]) -> str:
    schema = dump.get("schema") or {}
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return "enum"
    types = [t for t in _types(schema) if t != "null"]
    if types:
        return types[0] if types[0] in ("string", "integer", "number", "boolean", "array",
                                         "object") else "json"  # fmt: skip
    default = dump.get("default") if dump.get("has_default", True) else None
    # No type: the default's type says what the field holds, as Airflow's form guesses.
    for kind, python in (("boolean", bool), ("integer", int), ("number", float),
                         ("string", str), ("array", list), ("object", dict)):  # fmt: skip
        if isinstance(default, python):
            return kind
    return "json"


def _shown(kind: str, value: Any) -> str:
    """A value as its field shows it."""
    if value is None:
        return ""
    if kind in JSON_KINDS:
        return json.dumps(value, indent=2)
    if kind == "enum":
        return json.dumps(value)
    if kind == "boolean":
        return "true" if value else ""
    return str(value)


def param_fields(dag: SerializedDag) -> list[ParamField]:
    """The DAG's params as form fields with their defaults."""
    fields = []
    for name, dump in dag.params.items():
        schema = dict(dump.get("schema") or {})
        kind = _kind(dump)
        has_default = dump.get("has_default", True)
        default = dump.get("default") if has_default else None
        options: list[tuple[str, str]] = []
        if kind == "enum":
            labels = schema.get("values_display") or {}
            options = [
                (json.dumps(v), str(labels.get(str(v), v)) if isinstance(labels, dict) else str(v))
                for v in schema["enum"]
            ]
        fields.append(
            ParamField(
                name=name,
                kind=kind,
                label=str(schema.get("title") or name),
                description=dump.get("description") or schema.get("description"),
                nullable="null" in _types(schema),
                text=_shown(kind, default),
                options=options,
                schema=schema,
            )
        )
    return fields


def _read_field(param: ParamField, form: FormData) -> Any:
    """The field's value from the form (NOTSET: not given), or ValueError saying why not."""
    raw = form.get(param.form_name)
    text = raw if isinstance(raw, str) else ""
    param.text = text if param.kind != "boolean" else ("true" if text else "")
    if param.kind == "boolean":
        return bool(text)
    if text.strip() == "" and param.kind != "string":
        return None if param.nullable else NOTSET
    if param.kind == "string":
        return None if (text == "" and param.nullable) else text
    if param.kind == "integer":
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError(f"{text.strip()!r} is not a whole number") from None
    if param.kind == "number":
        try:
            return int(text.strip())  # 3 stays an integer, as JSON would have it
        except ValueError:
            pass
        try:
            number = float(text.strip())
        except ValueError:
            raise ValueError(f"{text.strip()!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"{text.strip()!r} is not a finite number")
        return number
    try:
        value = json.loads(text)
    except ValueError as exc:
        if param.kind == "enum":
            raise ValueError("choose one of the listed values") from None
        raise ValueError(f"not valid JSON: {exc}") from None
    if param.kind == "array" and not isinstance(value, list):
        raise ValueError("enter a JSON list, such as [1, 2]")
    if param.kind == "object" and not isinstance(value, dict):
        raise ValueError('enter a JSON object, such as {"key": "value"}')
    return value


@dataclass
class TriggerForm:
    """The trigger form as shown: fields, the conf box, the date, the run id, errors."""

    fields: list[ParamField]
    conf_text: str = "{}"
    conf_error: str = ""
    logical_date: str = ""
    date_error: str = ""
    run_id: str = ""
    run_id_error: str = ""
    error: str = ""
    """An error about the whole run (a clash with an existing run)."""

    @property
    def has_errors(self) -> bool:
        """Whether anything in the form is wrong."""
        return bool(
            self.conf_error or self.date_error or self.run_id_error or self.error
            or any(f.error for f in self.fields)
        )  # fmt: skip


def _read_conf(form: TriggerForm, raw: str) -> dict[str, Any]:
    form.conf_text = raw
    if not raw.strip():
        return {}
    try:
        conf = json.loads(raw)
    except ValueError as exc:
        form.conf_error = f"not valid JSON: {exc}"
        return {}
    if not isinstance(conf, dict):
        form.conf_error = f"the conf must be a JSON object ({{...}}), not {type(conf).__name__}"
        return {}
    return conf


def _read_date(form: TriggerForm, raw: str) -> datetime | None:
    form.logical_date = raw
    if not raw.strip():
        return None
    try:
        when = datetime.fromisoformat(raw.strip())
    except ValueError:
        form.date_error = f"{raw.strip()!r} is not a date and time; use YYYY-MM-DDTHH:MM (UTC)"
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def read_form(dag: SerializedDag, data: FormData) -> tuple[TriggerForm, dict[str, Any]]:
    """The form as posted, with each field checked, and the run's conf."""
    form = TriggerForm(fields=param_fields(dag))
    conf: dict[str, Any] = {}
    for param in form.fields:
        try:
            value = _read_field(param, data)
        except ValueError as exc:
            param.error = str(exc)
            continue
        if value is not NOTSET:
            conf[param.name] = value
    box = _read_conf(form, _text(data, "conf"))
    conf.update(box)  # the JSON box is the last word: it can set what no field offers
    for param in form.fields:
        if param.error:
            continue
        try:
            Param.load(dag.params[param.name]).resolve(conf.get(param.name, NOTSET),
                                                       name=param.name)  # fmt: skip
        except ParamValidationError as exc:
            where = " (from the JSON conf)" if param.name in box else ""
            param.error = str(exc).removeprefix(f"param '{param.name}': ") + where
    form.run_id = _text(data, "run_id").strip()
    if form.run_id:
        try:
            check_run_id(form.run_id)
        except ActionRefused as exc:
            form.run_id_error = str(exc)
    return form, conf


def _text(data: FormData, name: str) -> str:
    value = data.get(name)
    return value if isinstance(value, str) else ""


async def form_data(request: Request) -> FormData:
    """The posted form (read once; Starlette keeps it for the CSRF check too)."""
    return await request.form()


def _page(
    request: Request, dag: SerializedDag, form: TriggerForm, *, status: int = 200
) -> Response:
    context = {"nav": "dags", "dag": dag, "form": form, "url": dag_url(dag.dag_id)}
    return render(request, "trigger.html", context, status=status)


@router.get("/dags/{dag_id}/trigger")
def trigger_page(request: Request, dag_id: str, session: DbSession, user: Operator) -> Response:
    """The trigger form: a field per param, the JSON conf box, the logical date."""
    get_dag(session, dag_id)
    dag = load_stored_dag(session, dag_id)
    return _page(request, dag, TriggerForm(fields=param_fields(dag)))


@router.post("/dags/{dag_id}/trigger")
def trigger(
    request: Request,
    dag_id: str,
    session: DbSession,
    user: Operator,
    data: Annotated[FormData, Depends(form_data)],
) -> Response:
    """Trigger the run; on an error, the form again with what was typed and why (400)."""
    dag_row = get_dag(session, dag_id)
    dag = load_stored_dag(session, dag_id)
    form, conf = read_form(dag, data)
    logical_date = _read_date(form, _text(data, "logical_date"))
    if form.has_errors:
        return _page(request, dag, form, status=400)
    try:
        run = trigger_run(
            session, user.actor(request), dag_id, conf=conf, logical_date=logical_date,
            run_id=form.run_id or None,
        )  # fmt: skip
    except ActionRefused as exc:
        form.error = str(exc)
        return _page(request, dag, form, status=409)
    except ParamValidationError as exc:
        form.error = str(exc)
        return _page(request, dag, form, status=400)
    flash(request, f"Triggered DAG '{dag_id}': run '{run.run_id}' is queued.", "success")
    if dag_row.is_paused:
        flash(request, f"DAG '{dag_id}' is paused: the run waits until you unpause it.", "warning")
    return redirect(dag_url(dag_id, "grid"))
