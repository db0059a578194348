"""Jinja templating of task fields, with Airflow's filters and strict undefined names."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.ext  # named in every environment: imported here, not in each task's process
import jinja2.nativetypes
import jinja2.sandbox

from sluice.core.errors import TemplateError
from sluice.sdk.params import DagParam
from sluice.sdk.xcom_arg import XComArg

_TEMPLATE_MARKS = ("{{", "{%", "{#")


def is_template(value: object) -> bool:
    """Whether ``value`` is only known once the task renders it: text holding Jinja
    markup, or another task's output (an XComArg)."""
    if isinstance(value, XComArg):
        return True
    return isinstance(value, str) and any(mark in value for mark in _TEMPLATE_MARKS)


if TYPE_CHECKING:
    from sluice.sdk.dag import DAG
    from sluice.sdk.operator import BaseOperator


class _NativeSandbox(jinja2.sandbox.SandboxedEnvironment):
    """A sandbox that renders to Python objects (``render_template_as_native_obj``)."""

    code_generator_class = jinja2.nativetypes.NativeCodeGenerator
    concat = staticmethod(jinja2.nativetypes.native_concat)  # type: ignore[assignment]


def make_environment(dag: DAG | None) -> jinja2.Environment:
    """The Jinja environment for a DAG: its folder and template_searchpath, macros, filters."""
    searchpath: list[str] = []
    if dag is not None:
        searchpath.append(os.path.dirname(os.path.abspath(dag.fileloc)))
        searchpath.extend(dag.template_searchpath)
    native = bool(dag and dag.render_template_as_native_obj)
    env_class = _NativeSandbox if native else jinja2.sandbox.SandboxedEnvironment
    env = env_class(
        loader=jinja2.FileSystemLoader(searchpath),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.do"],
        cache_size=0,
        keep_trailing_newline=True,
    )
    env.filters.update(
        ds=_filter(lambda d: d.strftime("%Y-%m-%d")),
        ds_nodash=_filter(lambda d: d.strftime("%Y%m%d")),
        ts=_filter(lambda d: d.isoformat()),
        ts_nodash=_filter(lambda d: d.strftime("%Y%m%dT%H%M%S")),
        ts_nodash_with_tz=_filter(lambda d: d.isoformat().replace("-", "").replace(":", "")),
    )
    if dag is not None:
        env.globals.update(dag.user_defined_macros)
        env.filters.update(dag.user_defined_filters)
    return env


def _filter(fn: Any) -> Any:
    def apply(value: datetime | None) -> str:
        return "" if value is None else str(fn(value))

    return apply


def render_template(
    value: Any,
    context: Mapping[str, Any],
    env: jinja2.Environment,
    *,
    template_ext: tuple[str, ...] = (),
) -> Any:
    """Render strings inside ``value`` (recursively); a string ending in a template
    extension is the name of a file to load and render, as in Airflow."""
    if isinstance(value, str):
        if template_ext and value.endswith(template_ext):
            template = env.get_template(value)
        else:
            template = env.from_string(value)
        return template.render(**context)
    if isinstance(value, XComArg | DagParam):
        return value.resolve(context)
    if isinstance(value, tuple):
        if hasattr(value, "_fields"):  # a namedtuple keeps its type
            return type(value)(
                *(render_template(v, context, env, template_ext=template_ext) for v in value)
            )
        return tuple(render_template(v, context, env, template_ext=template_ext) for v in value)
    if isinstance(value, list):
        return [render_template(v, context, env, template_ext=template_ext) for v in value]
    if isinstance(value, dict):
        return {
            k: render_template(v, context, env, template_ext=template_ext) for k, v in value.items()
        }
    if isinstance(value, set):
        return {render_template(v, context, env, template_ext=template_ext) for v in value}
    return value


def render_template_fields(
    task: BaseOperator, context: Mapping[str, Any], env: jinja2.Environment
) -> None:
    """Render every template field of ``task`` in place; errors name the task and field."""
    ext = tuple(task.template_ext)
    for name in task.template_fields:
        value = getattr(task, name, None)
        if value is None:
            continue
        try:
            rendered = render_template(value, context, env, template_ext=ext)
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(
                f"task '{task.task_id}' field '{name}': template file '{exc.name}' not found "
                f"in {getattr(env.loader, 'searchpath', [])}"
            ) from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"task '{task.task_id}' field '{name}': {exc.message}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"task '{task.task_id}' field '{name}': template syntax error on line "
                f"{exc.lineno}: {exc.message}"
            ) from None
        except TemplateError:
            raise
        except Exception as exc:
            raise TemplateError(
                f"task '{task.task_id}' field '{name}': {type(exc).__name__}: {exc}"
            ) from exc
        setattr(task, name, rendered)
