"""Email alerts of failed tries: Airflow's ``email_on_failure`` and ``email_on_retry``.

A task whose ``email`` is set sends one when a try fails for good (``email_on_failure``,
default True) or fails and will be retried (``email_on_retry``, default True). The
subject and the HTML body are built in, or rendered from the Jinja files
``[email] subject_template`` and ``html_content_template`` with the task's template
context plus ``exception``, ``exception_html``, ``try_number``, ``max_tries`` and
``log_url`` (also ``ti.log_url``), as Airflow's. An alert that cannot be sent is logged;
it never changes how the try ended.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from sluice.integrations.email.smtp import send_email
from sluice.integrations.errors import IntegrationError
from sluice.integrations.masking import mask_text

if TYPE_CHECKING:
    from sluice.config import Settings

log = logging.getLogger("sluice.task")

Failure = BaseException | str | None
"""Why the try failed: the exception, or the scheduler's reason for a try it failed."""


def send_task_alert(
    task: Any, context: Mapping[str, Any], *, retry: bool, exception: Failure
) -> bool:
    """Email ``task.email`` that a try failed (``retry``: and will be retried), when the
    task's ``email_on_retry`` / ``email_on_failure`` allows; never raises.

    Returns whether an alert was sent.
    """
    recipients = getattr(task, "email", None)
    if not recipients or not getattr(task, "email_on_retry" if retry else "email_on_failure"):
        return False
    try:
        settings = context.get("conf")
        if settings is None:
            log.warning("email alert to %s not sent: no Sluice settings to read [smtp] from",
                        recipients)  # fmt: skip
            return False
        subject, html_content = alert_content(context, exception, settings, retry=retry)
        # The exception's text may hold a secret the task read: an alert is a page too.
        send_email(recipients, mask_text(subject), mask_text(html_content), settings=settings)
    except IntegrationError as exc:
        log.error("email alert to %s not sent: %s", recipients, exc)
        return False
    except Exception:
        log.exception("email alert to %s not sent", recipients)
        return False
    return True


def alert_content(
    context: Mapping[str, Any], exception: Failure, settings: Settings, *, retry: bool = False
) -> tuple[str, str]:
    """The subject and HTML body of an alert about the try of ``context["ti"]``."""
    ti = context["ti"]
    base_url = settings.get_str("webserver", "base_url")
    links = _Links(base_url, ti)
    extra = {
        "exception": exception,
        "exception_html": exception_html(exception),
        "try_number": ti.try_number,
        "max_tries": ti.max_tries,
        "log_url": links.log_url,
        "mark_success_url": links.instance_url,
    }
    subject = f"Sluice alert: {describe(ti)}"
    body = _default_body(context, extra, retry=retry)
    templates = {
        "subject": settings.get_str("email", "subject_template"),
        "html_content": settings.get_str("email", "html_content_template"),
    }
    if any(templates.values()):
        proxy = _AlertTaskInstance(ti, links)
        values = {**context, **extra, "ti": proxy, "task_instance": proxy}
        subject = _render(templates["subject"], "subject_template", values, context) or subject
        body = _render(templates["html_content"], "html_content_template", values, context) or body
    return subject, body


def describe(ti: Any) -> str:
    """``<TaskInstance dag.task [map index] run_id try N>``, as the runner's ``ti`` shows
    itself (Airflow's alert subject shows ``{{ ti }}``)."""
    map_index = getattr(ti, "map_index", -1)
    index = f" [{map_index}]" if map_index >= 0 else ""
    return f"<TaskInstance {ti.dag_id}.{ti.task_id}{index} {ti.run_id} try {ti.try_number}>"


def exception_html(exception: Failure) -> str:
    """The exception as HTML text: escaped, its line breaks as ``<br>``."""
    return html.escape(exception_text(exception)).replace("\n", "<br>")


def exception_text(exception: Failure) -> str:
    """``Type: message`` of an exception, or the scheduler's reason as it is, with the
    secrets the task read masked (before any escaping, which would hide them from it)."""
    if exception is None:
        return "(no exception recorded)"
    if isinstance(exception, str):
        return mask_text(exception)
    if isinstance(exception, SystemExit):
        return f"task called sys.exit({exception.code!r})"
    message = str(exception)
    text = f"{type(exception).__name__}: {message}" if message else type(exception).__name__
    return mask_text(text)


def task_log_url(
    base_url: str, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int
) -> str:
    """The web UI's page of the task instance, opened at the log of ``try_number``.

    The same path as ``sluice.web.links.instance_url`` builds (integrations may not import
    the web package): ``/dags/<dag>/runs/<run>/tasks/<task>?map_index=&try_number=#log``.
    """
    query: dict[str, int] = {}
    if map_index >= 0:
        query["map_index"] = map_index
    query["try_number"] = try_number
    return f"{_instance_path(base_url, dag_id, run_id, task_id)}?{urlencode(query)}#log"


# -- the built-in body -------------------------------------------------------------------


def _default_body(context: Mapping[str, Any], extra: Mapping[str, Any], *, retry: bool) -> str:
    ti = context["ti"]
    logical = context.get("logical_date")
    index = f" [{ti.map_index}]" if getattr(ti, "map_index", -1) >= 0 else ""
    tries = ti.max_tries + 1
    ending = "will be retried" if retry else "failed"
    rows = [
        ("DAG", ti.dag_id),
        ("Task", f"{ti.task_id}{index}"),
        ("Run", ti.run_id),
        ("Logical date", logical.isoformat() if logical is not None else ""),
        ("Try", f"{ti.try_number} of {tries}"),
        ("Host", getattr(ti, "hostname", "") or ""),
    ]
    table = "".join(
        f'<tr><th align="left">{name}</th><td>{html.escape(str(value))}</td></tr>'
        for name, value in rows
    )
    link = html.escape(extra["log_url"], quote=True)
    return (
        f"<p>Try {ti.try_number} out of {tries} of task <b>{html.escape(ti.task_id)}</b>"
        f" in DAG <b>{html.escape(ti.dag_id)}</b> {ending}.</p>"
        f"<table>{table}</table>"
        f"<p>Exception:<br>{extra['exception_html']}</p>"
        f'<p>Log: <a href="{link}">{link}</a></p>'
    )


# -- the configured templates ------------------------------------------------------------


def _render(path: str, key: str, values: Mapping[str, Any], context: Mapping[str, Any]) -> str:
    """The file's Jinja rendered with ``values``; "" (the built-in is used) when it is unset,
    missing or fails to render, with a warning saying why."""
    if not path:
        return ""
    from sluice.sdk.templating import make_environment

    file = Path(path).expanduser()
    try:
        source = file.read_text(encoding="utf-8")
        # The DAG's sandboxed environment, macros and filters, as Airflow renders alerts.
        return make_environment(context.get("dag")).from_string(source).render(**values)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        log.warning("[email] %s %s cannot be read (%s): the built-in is used", key, file, reason)
    except Exception as exc:  # a template error, an undefined name, ...
        log.warning("[email] %s %s failed to render (%s: %s): the built-in is used",
                    key, file, type(exc).__name__, exc)  # fmt: skip
    return ""


class _Links:
    """The web UI's links of one task instance."""

    def __init__(self, base_url: str, ti: Any) -> None:
        dag_id, run_id, task_id = ti.dag_id, ti.run_id, ti.task_id
        map_index = getattr(ti, "map_index", -1)
        self.log_url = task_log_url(base_url, dag_id, run_id, task_id, map_index, ti.try_number)
        path = _instance_path(base_url, dag_id, run_id, task_id)
        self.instance_url = f"{path}?map_index={map_index}" if map_index >= 0 else path


class _AlertTaskInstance:
    """The ``ti`` of alert templates: the task instance, plus Airflow's ``log_url`` and
    ``mark_success_url`` (the instance's page, where it can be marked)."""

    def __init__(self, ti: Any, links: _Links) -> None:
        self._ti = ti
        self.log_url = links.log_url
        self.mark_success_url = links.instance_url

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ti, name)

    def __repr__(self) -> str:
        return describe(self._ti)

    __str__ = __repr__


def _instance_path(base_url: str, dag_id: str, run_id: str, task_id: str) -> str:
    # Each id is one path segment: a run id holds ':' and '+', a grouped task id '.'.
    parts = ("dags", dag_id, "runs", run_id, "tasks", task_id)
    return base_url.rstrip("/") + "".join("/" + quote(p, safe="") for p in parts)
