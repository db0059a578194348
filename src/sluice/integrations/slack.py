"""Slack Incoming Webhooks: the hook, the operator and the notifier of Airflow's provider.

The connection (type ``slackwebhook``) holds the webhook in ``password``: either the whole
URL (``https://hooks.slack.com/services/T000/B000/XXXX``) or its path (``T000/B000/XXXX``),
which then follows ``schema://host`` (``https://hooks.slack.com/services`` by default).
Its extra may set ``timeout`` (seconds) and ``proxy``.

``requests`` is imported when a message is sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sluice.core.errors import DagDefinitionError
from sluice.integrations.connection import Connection
from sluice.integrations.errors import IntegrationError
from sluice.integrations.hooks.base import BaseHook
from sluice.integrations.http.hook import connection_error_reason
from sluice.integrations.notifiers import BaseNotifier, Context
from sluice.sdk.operator import BaseOperator

log = logging.getLogger("sluice.task")

DEFAULT_WEBHOOK_ENDPOINT = "hooks.slack.com/services"
DEFAULT_TIMEOUT = 30.0
"""Seconds to wait for Slack when neither the hook nor the connection says (slack_sdk's)."""
LEGACY_FIELDS = ("channel", "username", "icon_emoji", "icon_url")
"""Fields only legacy webhooks honour; an app's webhook posts where and as it was set up."""


class SlackWebhookError(IntegrationError):
    """Raised when a Slack webhook cannot be reached or refuses a message."""


@dataclass(frozen=True)
class WebhookResponse:
    """What the webhook answered."""

    status_code: int
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)


class SlackWebhookHook(BaseHook):
    """Posts messages to a Slack Incoming Webhook (Airflow's ``SlackWebhookHook``).

    Args:
        slack_webhook_conn_id: the ``slackwebhook`` connection with the webhook.
        timeout: seconds to wait for Slack (else the connection's extra ``timeout``, else 30).
        proxy: a proxy URL (else the connection's extra ``proxy``).
    """

    conn_name_attr = "slack_webhook_conn_id"
    default_conn_name = "slack_default"
    conn_type = "slackwebhook"
    hook_name = "Slack Incoming Webhook"

    def __init__(
        self,
        slack_webhook_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        proxy: str | None = None,
    ) -> None:
        self.slack_webhook_conn_id = slack_webhook_conn_id
        self.timeout = timeout
        self.proxy = proxy

    def webhook_url(self, connection: Connection | None = None) -> str:
        """The webhook's URL, built as Airflow's provider builds it (it holds the token)."""
        conn = connection or self.get_connection(self.slack_webhook_conn_id)
        token = (conn.password or "").strip()
        if not token:
            raise SlackWebhookError(
                f"connection '{conn.conn_id}' has no password: put the Slack webhook URL (or"
                " its path T000/B000/XXXX) in the connection's password"
            )
        if "://" in token:
            url = token
        else:
            base = conn.host or ""
            if "://" not in base:
                base = f"{conn.schema or 'https'}://{base or DEFAULT_WEBHOOK_ENDPOINT}"
            url = (base.rstrip("/") + "/" + token.lstrip("/")).rstrip("/")
        parts = urlsplit(url)
        if conn.port and parts.port is None and "://" not in token:
            # Airflow's form hides this type's port, but a URI may give one: keep it.
            url = urlunsplit(parts._replace(netloc=f"{parts.netloc}:{conn.port}"))
            parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SlackWebhookError(
                f"connection '{conn.conn_id}': the webhook URL {_shown(url)} is not an http(s)"
                " URL with a host"
            )
        return url

    def send_dict(
        self, body: Mapping[str, Any] | str, *, headers: Mapping[str, str] | None = None
    ) -> WebhookResponse:
        """Post ``body`` (a dict, or JSON text of one) as the message; the answer.

        Raises SlackWebhookError when Slack cannot be reached or does not answer 200 "ok".
        """
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except json.JSONDecodeError as exc:
                raise SlackWebhookError(
                    f"connection '{self.slack_webhook_conn_id}': the message body is not valid"
                    f" JSON: {exc}"
                ) from None
        if not isinstance(body, Mapping):
            raise TypeError(f"the message body must be a dict, not {type(body).__name__}")
        if not any(body.get(k) for k in ("text", "blocks", "attachments")):
            raise SlackWebhookError(
                f"connection '{self.slack_webhook_conn_id}': the message has no text, blocks"
                " or attachments: Slack would refuse it"
            )
        return self._post(dict(body), headers)

    def send(
        self,
        *,
        text: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        headers: Mapping[str, str] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> WebhookResponse:
        """Post a message made of the arguments that are not None (``kwargs`` are sent too:
        the legacy ``channel``, ``username``, ``icon_emoji``, ``icon_url``)."""
        body = {
            "text": text,
            "attachments": attachments,
            "blocks": blocks,
            "response_type": response_type,
            "replace_original": replace_original,
            "delete_original": delete_original,
            "unfurl_links": unfurl_links,
            "unfurl_media": unfurl_media,
            **kwargs,
        }
        return self.send_dict({k: v for k, v in body.items() if v is not None}, headers=headers)

    def send_text(
        self,
        text: str,
        *,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> WebhookResponse:
        """Post a text message."""
        return self.send(
            text=text, unfurl_links=unfurl_links, unfurl_media=unfurl_media, headers=headers
        )

    def _post(self, body: dict[str, Any], headers: Mapping[str, str] | None) -> WebhookResponse:
        import requests

        conn = self.get_connection(self.slack_webhook_conn_id)
        url = self.webhook_url(conn)
        extra = conn.extra_dejson
        timeout = self.timeout or _extra(extra, "timeout") or DEFAULT_TIMEOUT
        proxy = self.proxy or _extra(extra, "proxy")
        try:
            timeout = float(timeout)
        except (TypeError, ValueError):
            raise SlackWebhookError(
                f"connection '{conn.conn_id}': timeout must be a number of seconds, not {timeout!r}"
            ) from None
        where = f"connection '{conn.conn_id}': Slack webhook at {_shown(url)}"
        try:
            response = requests.post(
                url,
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json;charset=utf-8", **(headers or {})},
                timeout=timeout,
                proxies={"http": proxy, "https": proxy} if proxy else None,
            )
        except requests.exceptions.Timeout:
            raise SlackWebhookError(f"{where} did not answer within {timeout:g} s") from None
        except requests.exceptions.RequestException as exc:
            # requests' own text quotes the URL, token and all: say what happened only.
            reason = connection_error_reason(exc) or type(exc).__name__
            raise SlackWebhookError(f"{where} cannot be reached: {reason}") from None
        answer = WebhookResponse(response.status_code, response.text, dict(response.headers))
        if answer.status_code != 200 or answer.body.strip() != "ok":
            raise SlackWebhookError(
                f"{where} refused the message: {answer.status_code} {answer.body.strip()[:300]!r}"
                " (see https://api.slack.com/messaging/webhooks#handling_errors)"
            )
        log.debug("Slack webhook answered %s", answer.status_code)
        return answer


class SlackWebhookOperator(BaseOperator):
    """Posts a message to a Slack Incoming Webhook (Airflow's ``SlackWebhookOperator``).

    ``message``, ``attachments``, ``blocks``, ``channel``, ``username``, ``proxy`` and
    ``slack_webhook_conn_id`` are templated. ``channel``, ``username``, ``icon_emoji`` and
    ``icon_url`` only work with legacy webhooks; an app's webhook ignores them.
    """

    template_fields: Sequence[str] = (
        "message", "attachments", "blocks", "channel", "username", "proxy",
        "slack_webhook_conn_id",
    )  # fmt: skip
    template_fields_renderers = {"message": "md", "attachments": "json", "blocks": "json"}
    ui_color = "#4a154b"
    ui_fgcolor = "#fff"

    def __init__(
        self,
        *,
        slack_webhook_conn_id: str,
        message: str = "",
        attachments: list[dict[str, Any]] | None = None,
        blocks: list[dict[str, Any]] | None = None,
        channel: str | None = None,
        username: str | None = None,
        icon_emoji: str | None = None,
        icon_url: str | None = None,
        proxy: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.slack_webhook_conn_id = slack_webhook_conn_id
        self.message = message
        self.attachments = _checked_list(f"task '{self.task_id}'", "attachments", attachments)
        self.blocks = _checked_list(f"task '{self.task_id}'", "blocks", blocks)
        if not message and not attachments and not blocks:
            raise DagDefinitionError(
                f"task '{self.task_id}': give the message, blocks or attachments to send"
            )
        self.channel = channel
        self.username = username
        self.icon_emoji = icon_emoji
        self.icon_url = icon_url
        self.proxy = proxy
        self.timeout = timeout

    @property
    def hook(self) -> SlackWebhookHook:
        """A hook on the task's connection."""
        return SlackWebhookHook(self.slack_webhook_conn_id, timeout=self.timeout, proxy=self.proxy)

    def execute(self, context: Context) -> None:
        """Post the message."""
        self.hook.send(
            text=self.message or None,
            attachments=self.attachments,
            blocks=self.blocks,
            channel=self.channel,
            username=self.username,
            icon_emoji=self.icon_emoji,
            icon_url=self.icon_url,
        )


class SlackWebhookNotifier(BaseNotifier):
    """Posts a message to a Slack Incoming Webhook when a callback fires (Airflow's
    ``SlackWebhookNotifier``); ``text``, ``blocks`` and ``attachments`` are templates
    rendered with the task's context.

    Example: ``on_failure_callback=send_slack_notification(slack_webhook_conn_id="slack",
    text="{{ ti.task_id }} failed: {{ exception }}")``.
    """

    template_fields: Sequence[str] = (
        "slack_webhook_conn_id", "text", "attachments", "blocks", "proxy", "timeout",
        "channel", "username",
    )  # fmt: skip

    def __init__(
        self,
        *,
        slack_webhook_conn_id: str = SlackWebhookHook.default_conn_name,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        proxy: str | None = None,
        timeout: float | None = None,
        attachments: list[dict[str, Any]] | None = None,
        channel: str | None = None,
        username: str | None = None,
        icon_emoji: str | None = None,
        icon_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        _refuse_unknown(type(self).__name__, kwargs)
        if not isinstance(text, str):
            raise DagDefinitionError(f"{type(self).__name__}: text must be text, got {text!r}")
        self.slack_webhook_conn_id = slack_webhook_conn_id
        self.text = text
        self.blocks = _checked_list(type(self).__name__, "blocks", blocks)
        self.attachments = _checked_list(type(self).__name__, "attachments", attachments)
        self.unfurl_links = unfurl_links
        self.unfurl_media = unfurl_media
        self.proxy = proxy
        self.timeout = timeout
        self.channel = channel
        self.username = username
        self.icon_emoji = icon_emoji
        self.icon_url = icon_url

    @property
    def hook(self) -> SlackWebhookHook:
        """A hook on the notifier's connection."""
        # A template field: rendered, it may be the text of a number.
        raw: Any = self.timeout
        timeout = float(raw) if raw not in (None, "") else None
        return SlackWebhookHook(self.slack_webhook_conn_id, timeout=timeout, proxy=self.proxy)

    def notify(self, context: Context) -> None:
        """Post the rendered message."""
        legacy = {name: getattr(self, name) for name in LEGACY_FIELDS}
        self.hook.send(
            text=self.text,
            blocks=self.blocks,
            attachments=self.attachments,
            unfurl_links=self.unfurl_links,
            unfurl_media=self.unfurl_media,
            **{k: v for k, v in legacy.items() if v is not None},
        )


SlackNotifier = SlackWebhookNotifier
"""Airflow's name for its Slack API notifier; Sluice's posts to a webhook."""
send_slack_webhook_notification = SlackWebhookNotifier
"""Airflow's name: ``on_failure_callback=send_slack_webhook_notification(...)``."""
send_slack_notification = SlackWebhookNotifier
"""Airflow's name of its Slack API notifier; Sluice's posts to a webhook."""


def _refuse_unknown(name: str, kwargs: Mapping[str, Any]) -> None:
    if not kwargs:
        return
    if "slack_conn_id" in kwargs:
        raise DagDefinitionError(
            f"{name}: slack_conn_id names a Slack API connection (a bot token), which Sluice"
            " does not use: make a 'slackwebhook' connection with the webhook URL in its"
            " password and pass slack_webhook_conn_id"
        )
    raise DagDefinitionError(f"{name}: unknown argument(s) {', '.join(sorted(kwargs))}")


def _checked_list(where: str, name: str, value: Any) -> Any:
    """``value`` unless it is text or a dict (Slack wants a list of dicts; an XComArg that
    resolves to one is fine)."""
    if isinstance(value, str | bytes | Mapping):
        raise DagDefinitionError(
            f"{where}: {name} must be a list of dicts (Slack's {name}), got {type(value).__name__}"
        )
    return value


def _extra(extra: Mapping[str, Any], name: str) -> Any:
    """An extra field, under its name or Airflow's old prefixed name."""
    value = extra.get(name)
    if value in (None, ""):
        value = extra.get(f"extra__slackwebhook__{name}")
    return value if value not in (None, "") else None


def _shown(url: str) -> str:
    """The URL without its path, which holds the webhook's token."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/***" if parts.path.strip("/") else "", "", ""))
