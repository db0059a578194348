"""``BaseNotifier``: a callback object that renders its templates, then sends something.

A notifier is what Airflow's ``airflow.notifications.basenotifier.BaseNotifier`` is: give
an instance as ``on_failure_callback`` (or any callback, alone or in a list), and when the
callback fires its ``template_fields`` are rendered with the task's context and the DAG's
Jinja environment, then ``notify(context)`` sends the message. Writing one::

    class TeamsNotifier(BaseNotifier):
        template_fields = ("text",)

        def __init__(self, *, http_conn_id: str, text: str) -> None:
            super().__init__()
            self.http_conn_id = http_conn_id
            self.text = text

        def notify(self, context):
            HttpHook(http_conn_id=self.http_conn_id).run(json={"text": self.text})
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sluice.core.errors import TemplateError

if TYPE_CHECKING:
    import jinja2

Context = dict[str, Any]


class BaseNotifier(ABC):
    """The base of notifiers: implement ``notify(context)``; name the attributes to render
    in ``template_fields`` (files ending in ``template_ext`` are loaded and rendered).

    Each call renders a copy of the notifier, so one instance can serve every task of a
    DAG (in ``default_args``) without one task's rendering leaking into the next.
    """

    template_fields: Sequence[str] = ()
    template_ext: Sequence[str] = ()

    @abstractmethod
    def notify(self, context: Context) -> None:
        """Send the notification; the template fields are rendered already."""

    def render_template_fields(
        self, context: Mapping[str, Any], jinja_env: jinja2.Environment | None = None
    ) -> None:
        """Render every template field in place, with ``jinja_env`` or the environment of
        the context's DAG (its folder, ``template_searchpath`` and macros)."""
        from sluice.sdk.templating import make_environment

        env = jinja_env if jinja_env is not None else make_environment(context.get("dag"))
        for name in self.template_fields:
            value = getattr(self, name, None)
            if value is not None:
                setattr(self, name, self._render_field(name, value, context, env))

    def _render_field(
        self, name: str, value: Any, context: Mapping[str, Any], env: jinja2.Environment
    ) -> Any:
        import jinja2

        from sluice.sdk.templating import render_template

        where = f"{type(self).__name__} field '{name}'"
        try:
            return render_template(value, context, env, template_ext=tuple(self.template_ext))
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"{where}: template file '{exc.name}' not found") from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"{where}: {exc.message}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"{where}: template syntax error on line {exc.lineno}: {exc.message}"
            ) from None

    def __call__(self, context: Mapping[str, Any]) -> None:
        """Render the template fields with ``context``, then ``notify``.

        As in Airflow, the template fields' own values join the context, so that one field
        can name another (``{{ channel }}``). An error propagates: the callback runner logs
        it and carries on.
        """
        merged: Context = {**context, **{f: getattr(self, f, None) for f in self.template_fields}}
        notifier = copy.copy(self)
        notifier.render_template_fields(merged)
        notifier.notify(merged)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
