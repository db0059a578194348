"""EmailOperator run by the real task runner against a real SMTP server, and its checks
at DAG definition time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.integrations.email.conftest import USER, MailServer, free_port, use_settings
from tests.runner.conftest import Stored

from sluice import DAG
from sluice.core.errors import DagDefinitionError
from sluice.core.messages import RunnerExit
from sluice.core.states import TaskInstanceState as S
from sluice.integrations.email import EmailOperator
from sluice.store import connections

REPORT = """
from sluice.integrations.email import EmailOperator

with DAG("mail", schedule=None, start_date=datetime(2024, 1, 1),
         params={{"team": "data@example.com", "folder": {folder!r}}}) as dag:
    EmailOperator(
        task_id="report",
        to="{{{{ params.team }}}}; ops@example.com",
        cc=["lead@example.com"],
        bcc="audit@example.com",
        subject="Report for {{{{ ds }}}}",
        html_content="report.html",
        files=["{{{{ params.folder }}}}/data_{{{{ ds_nodash }}}}.csv"],
        custom_headers={{"X-Run": "manual"}},
    )
"""


def test_email_operator_sends_its_rendered_mail(
    mailing: Stored, smtp_server: MailServer, tmp_path: Path
) -> None:
    (tmp_path / "data_20240315.csv").write_text("id\n1\n")
    (mailing.folder / "report.html").write_text("<h1>{{ dag.dag_id }} on {{ ds }}</h1>\n")
    mailing.write("mail.py", REPORT.format(folder=str(tmp_path)))
    run_id = mailing.trigger("mail")

    assert mailing.run("mail", run_id, "report") == RunnerExit.OUTCOME_WRITTEN

    ti = mailing.ti("mail", run_id, "report")
    assert ti.state == S.SUCCESS
    (received,) = smtp_server.messages
    assert received.rcpt_tos == [
        "data@example.com", "ops@example.com", "lead@example.com", "audit@example.com",
    ]  # fmt: skip
    message = received.message
    assert message["Subject"] == "Report for 2024-03-15"
    assert message["To"] == "data@example.com, ops@example.com"
    assert message["X-Run"] == "manual"
    assert received.html == "<h1>mail on 2024-03-15</h1>\n"
    attachments = {p.get_filename(): p.get_content() for p in message.iter_attachments()}  # type: ignore[attr-defined]
    assert attachments == {"data_20240315.csv": b"id\n1\n"}
    rendered = json.loads(ti.rendered_fields or "")
    assert rendered["to"] == "data@example.com; ops@example.com"
    assert rendered["files"] == [f"{tmp_path}/data_20240315.csv"]


CONNECTED = """
from sluice.integrations.email import EmailOperator

with DAG("relay", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    EmailOperator(task_id="send", to="a@example.com", subject="via relay", html_content="hi",
                  conn_id="relay")
"""


def test_the_connection_in_the_database_overrides_smtp(
    stored: Stored, auth_server: MailServer
) -> None:
    # [smtp] points where nothing listens: only the connection can reach the server.
    dead = use_settings(stored, {("smtp", "smtp_port"): free_port(),
                                 ("smtp", "smtp_retry_limit"): 0})  # fmt: skip
    extra = json.dumps({"disable_tls": True, "from_email": "relay@example.com"})
    with dead.store.transaction() as session:
        fields = {"conn_type": "smtp", "host": "127.0.0.1", "port": auth_server.port,
                  "login": USER, "extra": extra}  # fmt: skip
        connections.create_connection(session, "relay", fields, "s3cret")
    dead.write("relay.py", CONNECTED)
    run_id = dead.trigger("relay")

    dead.run("relay", run_id, "send")

    assert dead.ti("relay", run_id, "send").state == S.SUCCESS
    (received,) = auth_server.messages
    assert (received.login, received.mail_from) == (USER, "relay@example.com")


DOWN = """
from sluice.integrations.email import EmailOperator

with DAG("down", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    EmailOperator(task_id="send", to="a@example.com", subject="s", html_content="b")
    EmailOperator(task_id="attach", to="a@example.com", subject="s", html_content="b",
                  files=["/no/such/file.csv"])
    EmailOperator(task_id="empty", to="{{ params.get('nobody', '') }}", subject="s",
                  html_content="b")
"""


def test_run_time_failures_fail_the_task_naming_it(stored: Stored) -> None:
    port = free_port()
    down = use_settings(stored, {("smtp", "smtp_host"): "127.0.0.1", ("smtp", "smtp_port"): port,
                                 ("smtp", "smtp_retry_limit"): 1})  # fmt: skip
    down.write("down.py", DOWN)
    run_id = down.trigger("down")
    errors = {}
    for task_id in ("send", "attach", "empty"):
        down.run("down", run_id, task_id)
        assert down.ti("down", run_id, task_id).state == S.FAILED
        (attempt,) = down.tries("down", task_id)
        errors[task_id] = attempt.error

    assert errors == {
        "send": f"SmtpError: task 'send': cannot connect to the SMTP server 127.0.0.1:{port}"
        " after 2 attempt(s): Connection refused",
        "attach": "EmailError: task 'attach': attachment '/no/such/file.csv' not found",
        "empty": "EmailError: task 'empty': no recipient: to, cc and bcc hold no address",
    }


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"to": None}, "to must be an address, a string of addresses"),
        ({"to": ""}, "to holds no address"),
        ({"to": " ; "}, "to holds no address"),
        ({"to": ["a@example.com", 3]}, "to holds 3, which is not an address"),
        ({"cc": {"a": "b"}}, "cc must be an address"),
        ({"subject": 5}, "subject must be a string, not 5"),
        ({"html_content": None}, "html_content must be a string"),
        (
            {"files": "report.csv"},
            r"files must be a list of file paths.*write files=\['report.csv'\]",
        ),
        ({"files": ["a.csv", None]}, "files holds None, which is not a file path"),
        ({"mime_subtype": "mixed; x=y"}, "mime_subtype must be a MIME subtype"),
        ({"mime_charset": "klingon"}, "mime_charset 'klingon' is not a known character set"),
        ({"conn_id": ""}, "conn_id must be a connection id"),
        ({"from_email": ["a@x"]}, "from_email must be an address"),
        ({"custom_headers": ["X-A"]}, "custom_headers must be a dict"),
        ({"custom_headers": {"X A": "1"}}, "custom header name 'X A'"),
        ({"custom_headers": {"X-A": "1\nBcc: e@x"}}, "custom header X-A .* holds a line break"),
    ],
)
def test_bad_arguments_are_dag_definition_errors_naming_the_task(
    kwargs: dict[str, Any], problem: str
) -> None:
    arguments: dict[str, Any] = {"to": "a@example.com", "subject": "s", "html_content": "b"}
    arguments.update(kwargs)
    with (
        DAG("defs", schedule=None),
        pytest.raises(DagDefinitionError, match=f"task 'mail' of DAG 'defs': {problem}"),
    ):
        EmailOperator(task_id="mail", **arguments)


def test_required_arguments_are_named() -> None:
    with (
        DAG("defs", schedule=None),
        pytest.raises(
            DagDefinitionError, match=r"EmailOperator \(task_id: mail\) is missing .*'html_content'"
        ),
    ):
        EmailOperator(task_id="mail", to="a@example.com", subject="s")  # type: ignore[call-arg]


def test_defaults_and_templated_fields_match_airflow() -> None:
    with DAG("defs", schedule=None):
        task = EmailOperator(task_id="mail", to=["a@x.org"], subject="s", html_content="b")
    assert task.files == []
    assert (task.cc, task.bcc, task.conn_id, task.from_email) == (None, None, None, None)
    assert (task.mime_subtype, task.mime_charset) == ("mixed", "utf-8")
    assert set(EmailOperator.template_fields) >= {"to", "subject", "html_content", "files"}
    assert tuple(EmailOperator.template_ext) == (".html",)
