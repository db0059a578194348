"""Slack Incoming Webhooks against a local Slack-like receiver: the hook, the operator, and
the notifier as the failure callback of a task run by the real task runner."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from tests.integrations.http.conftest import Received, Recorder, set_connection
from tests.runner.conftest import Stored

from sluice import DAG
from sluice.core.errors import DagDefinitionError
from sluice.core.messages import RunnerExit
from sluice.core.states import TaskInstanceState
from sluice.integrations.connection import Connection
from sluice.integrations.slack import (
    SlackNotifier,
    SlackWebhookError,
    SlackWebhookHook,
    SlackWebhookNotifier,
    SlackWebhookOperator,
    send_slack_notification,
    send_slack_webhook_notification,
)
from sluice.runner.local_run import LocalDagRun
from sluice.store import connections

S = TaskInstanceState
MakeRun = Callable[..., LocalDagRun]
TOKEN = "T0001/B0002/secretsecret"


@dataclass
class Receiver:
    """The Slack-like receiver at a path of this test's own."""

    server: Recorder
    path: str

    def received(self) -> list[Received]:
        """What the webhook got."""
        return self.server.to(self.path)


@pytest.fixture
def slack(http_server: Recorder, monkeypatch: pytest.MonkeyPatch) -> Receiver:
    """The connection ``slack`` (in the environment) to a receiver of this test's own."""
    path = f"/slack/{uuid.uuid4().hex}"
    set_connection(
        monkeypatch,
        "slack",
        {"conn_type": "slackwebhook", "host": http_server.url + path, "password": TOKEN},
    )
    return Receiver(http_server, path)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"password": TOKEN}, f"https://hooks.slack.com/services/{TOKEN}"),
        ({"password": "/" + TOKEN + "/"}, f"https://hooks.slack.com/services/{TOKEN}"),
        ({"password": f" https://hooks.slack.com/services/{TOKEN} ", "host": "ignored.example"},
         f"https://hooks.slack.com/services/{TOKEN}"),
        ({"password": TOKEN, "host": "chat.example.com/hooks", "schema": "http"},
         f"http://chat.example.com/hooks/{TOKEN}"),
        ({"password": TOKEN, "host": "https://chat.example.com/hooks/", "schema": "http"},
         f"https://chat.example.com/hooks/{TOKEN}"),
        ({"password": TOKEN, "host": "127.0.0.1", "schema": "http", "port": 8123},
         f"http://127.0.0.1:8123/{TOKEN}"),
    ],
)  # fmt: skip
def test_the_webhook_url_is_built_as_airflows_provider(
    fields: dict[str, Any], expected: str
) -> None:
    conn = Connection("slack", "slackwebhook", **fields)
    assert SlackWebhookHook("slack").webhook_url(conn) == expected


def test_send_posts_the_message_as_json(slack: Receiver) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    answer = SlackWebhookHook(slack_webhook_conn_id="slack").send(
        text="hello", blocks=blocks, unfurl_links=False
    )
    assert (answer.status_code, answer.body) == (200, "ok")
    (got,) = slack.received()
    assert got.path == f"{slack.path}/{TOKEN}"
    assert got.method == "POST"
    assert got.headers["Content-Type"] == "application/json;charset=utf-8"
    assert got.json() == {"text": "hello", "blocks": blocks, "unfurl_links": False}


def test_send_text_and_send_dict(slack: Receiver) -> None:
    hook = SlackWebhookHook("slack")
    hook.send_text("plain")
    hook.send_dict('{"text": "from json"}')
    assert [r.json() for r in slack.received()] == [
        {"text": "plain"},
        {"text": "from json"},
    ]


def test_a_refusal_carries_slacks_message_and_hides_the_token(
    http_server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(
        monkeypatch,
        "revoked",
        {
            "conn_type": "slackwebhook",
            "host": f"{http_server.url}/slack/revoked",
            "password": TOKEN,
        },
    )
    with pytest.raises(SlackWebhookError) as info:
        SlackWebhookHook("revoked").send(text="x")
    assert str(info.value) == (
        f"connection 'revoked': Slack webhook at {http_server.url}/*** refused the message:"
        " 403 'invalid_token' (see https://api.slack.com/messaging/webhooks#handling_errors)"
    )
    assert "secret" not in str(info.value)


def test_200_without_ok_is_an_error(http_server: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(
        monkeypatch,
        "quirky",
        {"conn_type": "slackwebhook", "host": f"{http_server.url}/slack/quirky", "password": TOKEN},
    )
    with pytest.raises(SlackWebhookError, match="refused the message: 200 'maybe'"):
        SlackWebhookHook("quirky").send(text="x")


def test_an_unreachable_webhook_is_named_without_the_token(
    closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(
        monkeypatch,
        "gone",
        f"slackwebhook://:{TOKEN.replace('/', '%2F')}@127.0.0.1:{closed_port}/http",
    )
    with pytest.raises(SlackWebhookError) as info:
        SlackWebhookHook("gone").send(text="x")
    assert str(info.value) == (
        f"connection 'gone': Slack webhook at http://127.0.0.1:{closed_port}/*** cannot be"
        " reached: Connection refused"
    )


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        ({"conn_type": "slackwebhook", "host": "hooks.slack.com"}, "has no password"),
        ({"conn_type": "slackwebhook", "password": "ftp://x.example/T/B/C"}, "is not an http(s)"),
    ],
)
def test_a_bad_connection_is_named(
    monkeypatch: pytest.MonkeyPatch, conn: dict[str, Any], message: str
) -> None:
    set_connection(monkeypatch, "bad_slack", conn)
    with pytest.raises(SlackWebhookError, match=r"^connection 'bad_slack'") as info:
        SlackWebhookHook("bad_slack").send(text="x")
    assert message in str(info.value)


def test_an_empty_message_is_refused_before_sending(slack: Receiver) -> None:
    with pytest.raises(SlackWebhookError, match="the message has no text, blocks or attachments"):
        SlackWebhookHook("slack").send(text="")
    assert slack.received() == []


def test_the_operator_sends_its_rendered_message(slack: Receiver, make_run: MakeRun) -> None:
    with DAG("slack_dag") as dag:
        SlackWebhookOperator(
            task_id="post",
            slack_webhook_conn_id="slack",
            message="Loaded {{ params.rows }} rows on {{ ds }}",
            attachments=[{"text": "run {{ run_id }}"}],
            channel="#{{ dag.dag_id }}",
            username="sluice",
            icon_emoji=":ocean:",
            params={"rows": 42},
        )
    (record,) = make_run(dag).execute().instances
    assert record.state == S.SUCCESS
    (got,) = slack.received()
    assert got.json() == {
        "text": "Loaded 42 rows on 2024-03-15",
        "attachments": [{"text": "run manual__2024-03-15T00:00:00+00:00"}],
        "channel": "#slack_dag",
        "username": "sluice",
        "icon_emoji": ":ocean:",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"message": ""}, "give the message, blocks or attachments to send"),
        ({"blocks": '[{"type": "divider"}]'}, "blocks must be a list of dicts"),
        ({"attachments": {"text": "x"}}, "attachments must be a list of dicts"),
    ],
)
def test_operator_bad_arguments_fail_at_definition(args: dict[str, Any], message: str) -> None:
    args.setdefault("message", "hi")
    with DAG("bad_slack"), pytest.raises(DagDefinitionError) as info:
        SlackWebhookOperator(task_id="post", slack_webhook_conn_id="slack", **args)
    assert str(info.value).startswith("task 'post': ")
    assert message in str(info.value)


def test_operator_needs_its_connection_id() -> None:
    with DAG("bad_slack"), pytest.raises(DagDefinitionError, match="'slack_webhook_conn_id'"):
        SlackWebhookOperator(task_id="post", message="hi")  # type: ignore[call-arg]


def test_airflows_names_of_the_notifier() -> None:
    assert SlackNotifier is SlackWebhookNotifier
    assert send_slack_notification is SlackWebhookNotifier
    assert send_slack_webhook_notification is SlackWebhookNotifier


def test_notifier_bad_arguments_are_named() -> None:
    with pytest.raises(DagDefinitionError, match="slack_conn_id names a Slack API connection"):
        send_slack_notification(slack_conn_id="slack_api", text="x")
    with pytest.raises(DagDefinitionError, match=r"unknown argument\(s\) chanel"):
        send_slack_notification(slack_webhook_conn_id="s", text="x", chanel="#a")
    with pytest.raises(DagDefinitionError, match="blocks must be a list of dicts"):
        send_slack_notification(slack_webhook_conn_id="s", text="x", blocks="[]")


FAILING_DAG = """
from sluice.integrations.slack import send_slack_notification

alert = send_slack_notification(
    slack_webhook_conn_id="team_slack",
    text="{{ dag.dag_id }}.{{ ti.task_id }} failed (try {{ ti.try_number }}): {{ exception }}",
    blocks=[
        {"type": "section", "text": {"type": "mrkdwn", "text": "*{{ ti.task_id }}* on {{ ds }}"}}
    ],
)

def load():
    raise ValueError("row 7 has no id")

with DAG("slack_alerts", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    PythonOperator(task_id="load", python_callable=load, on_failure_callback=alert)
"""


def test_send_slack_notification_as_the_failure_callback_of_a_stored_task(
    stored: Stored, http_server: Recorder
) -> None:
    path = f"slack/{stored.store.url.split(':', 1)[0]}"  # one receiver path per backend
    with stored.store.transaction() as session:
        connections.create_connection(
            session,
            "team_slack",
            {"conn_type": "slackwebhook", "host": "127.0.0.1", "schema": "http",
             "port": http_server.port},
            password=f"{path}/{TOKEN}",
        )  # fmt: skip
    stored.write("slack_alerts.py", FAILING_DAG)
    run_id = stored.trigger("slack_alerts")

    assert stored.run("slack_alerts", run_id, "load") == RunnerExit.OUTCOME_WRITTEN
    assert stored.ti("slack_alerts", run_id, "load").state == S.FAILED
    (got,) = http_server.to("/" + path)
    assert got.path == f"/{path}/{TOKEN}"
    assert got.json() == {
        "text": "slack_alerts.load failed (try 1): row 7 has no id",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*load* on 2024-03-15"}}],
    }
