"""email_on_failure and email_on_retry of tasks run by the real task runner, to a real
SMTP server: who gets an alert, what it says, and that a failed alert changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integrations.email.conftest import MailServer, free_port, try_log, use_settings
from tests.runner.conftest import Stored

from sluice.core.messages import CallbackWorkload
from sluice.core.states import TaskInstanceState as S
from sluice.integrations.email.alerts import task_log_url
from sluice.runner.dag_callbacks import RAN, run_callback_workload
from sluice.web.links import instance_url

ALERTS = """
def explode():
    raise ValueError("<b>bad</b> row & more\\nsecond line")

with DAG("alerts", schedule=None, start_date=datetime(2024, 1, 1),
         default_args={"email": ["oncall@example.com", "lead@example.com"], "retries": 1,
                       "retry_delay": 0}) as dag:
    PythonOperator(task_id="flaky", python_callable=explode)
    PythonOperator(task_id="no_retry_mail", python_callable=explode, email_on_retry=False)
    PythonOperator(task_id="quiet", python_callable=explode, email_on_failure=False,
                   email_on_retry=False)
    PythonOperator(task_id="nobody", python_callable=explode, email=None)
    PythonOperator(task_id="one_try", python_callable=explode, retries=0, email="me@x.org")
    PythonOperator(task_id="fine", python_callable=lambda: None)
"""

BASE_URL = "https://sluice.example.com/"


def _alerting(stored: Stored, server: MailServer, **more: object) -> Stored:
    overrides = server.overrides(**more)
    overrides[("webserver", "base_url")] = BASE_URL
    mailing = use_settings(stored, overrides)
    mailing.write("alerts.py", ALERTS)
    return mailing


def test_a_retry_then_a_failure_each_send_an_alert(stored: Stored, smtp_server: MailServer) -> None:
    mailing = _alerting(stored, smtp_server)
    run_id = mailing.trigger("alerts")

    mailing.run("alerts", run_id, "flaky")
    assert mailing.ti("alerts", run_id, "flaky").state == S.UP_FOR_RETRY
    (retry,) = smtp_server.messages
    mailing.run("alerts", run_id, "flaky")
    assert mailing.ti("alerts", run_id, "flaky").state == S.FAILED
    failure = smtp_server.messages[1]

    for number, received in ((1, retry), (2, failure)):
        assert received.rcpt_tos == ["oncall@example.com", "lead@example.com"]
        assert received.message["Subject"] == (
            f"Sluice alert: <TaskInstance alerts.flaky {run_id} try {number}>"
        )
        body = received.html
        assert f"Try {number} out of 2 of task <b>flaky</b> in DAG <b>alerts</b>" in body
        assert f"<td>{run_id}</td>" in body
        assert "<td>2024-03-15T00:00:00+00:00</td>" in body
        assert f"<td>{number} of 2</td>" in body
        # The exception's text, escaped, its lines kept apart.
        assert "ValueError: &lt;b&gt;bad&lt;/b&gt; row &amp; more<br>second line" in body
        assert "<b>bad</b>" not in body
        quoted_run = run_id.replace(":", "%3A").replace("+", "%2B")
        link = (
            f"https://sluice.example.com/dags/alerts/runs/{quoted_run}/tasks/flaky"
            f"?try_number={number}#log"
        )
        assert f'<a href="{link}">' in body
    assert (
        "will be retried" in retry.html and "flaky</b> in DAG <b>alerts</b> failed" in failure.html
    )
    assert "Sent an email to oncall@example.com, lead@example.com" in try_log(
        mailing, "alerts", run_id, "flaky", 1
    )


def test_no_alert_without_email_or_with_the_flags_off(
    stored: Stored, smtp_server: MailServer
) -> None:
    mailing = _alerting(stored, smtp_server)
    run_id = mailing.trigger("alerts")

    for task_id in ("quiet", "nobody"):
        mailing.run("alerts", run_id, task_id)
        mailing.run("alerts", run_id, task_id)  # the retry
    mailing.run("alerts", run_id, "fine")
    assert mailing.ti("alerts", run_id, "quiet").state == S.FAILED
    assert mailing.ti("alerts", run_id, "nobody").state == S.FAILED
    assert mailing.ti("alerts", run_id, "fine").state == S.SUCCESS
    assert smtp_server.messages == []

    # email_on_retry=False: no alert for the retry, one for the final failure.
    mailing.run("alerts", run_id, "no_retry_mail")
    assert smtp_server.messages == []
    mailing.run("alerts", run_id, "no_retry_mail")
    (received,) = smtp_server.messages
    assert "try 2>" in received.message["Subject"]

    # A task's own email wins over default_args'; a failure without retries alerts at once.
    mailing.run("alerts", run_id, "one_try")
    assert mailing.ti("alerts", run_id, "one_try").state == S.FAILED
    assert smtp_server.messages[1].rcpt_tos == ["me@x.org"]


def test_a_down_smtp_server_leaves_the_outcome_and_logs_why(stored: Stored) -> None:
    port = free_port()
    mailing = use_settings(stored, {("smtp", "smtp_host"): "127.0.0.1", ("smtp", "smtp_port"): port,
                                    ("smtp", "smtp_retry_limit"): 0})  # fmt: skip
    mailing.write("alerts.py", ALERTS)
    run_id = mailing.trigger("alerts")

    mailing.run("alerts", run_id, "one_try")

    assert mailing.ti("alerts", run_id, "one_try").state == S.FAILED
    (attempt,) = mailing.tries("alerts", "one_try")
    assert attempt.error == "ValueError: <b>bad</b> row & more\nsecond line"
    log = try_log(mailing, "alerts", run_id, "one_try", 1)
    assert (
        f"email alert to me@x.org not sent: cannot connect to the SMTP server 127.0.0.1:{port}"
        " after 1 attempt(s): Connection refused"
    ) in log


def test_configured_templates_render_with_the_alert_context(
    stored: Stored, smtp_server: MailServer, tmp_path: Path
) -> None:
    subject = tmp_path / "subject.txt"
    subject.write_text(
        "[{{ dag.dag_id }}] {{ ti.task_id }} try {{ try_number }}/{{ max_tries + 1 }}\n"
    )
    body = tmp_path / "body.html"
    body.write_text("{{ exception_html }}|{{ ti.log_url }}|{{ ds }}|{{ exception }}|{{ ti }}")
    mailing = _alerting(stored, smtp_server, subject_template=str(subject),
                        html_content_template=str(body))  # fmt: skip
    run_id = mailing.trigger("alerts")

    mailing.run("alerts", run_id, "one_try")

    (received,) = smtp_server.messages
    assert received.message["Subject"] == "[alerts] one_try try 1/1"
    exception, link, ds, raw, ti = received.html.split("|")
    assert exception == "ValueError: &lt;b&gt;bad&lt;/b&gt; row &amp; more<br>second line"
    assert link.startswith("https://sluice.example.com/dags/alerts/runs/")
    assert link.endswith("/tasks/one_try?try_number=1#log")
    assert (ds, raw) == ("2024-03-15", "<b>bad</b> row & more\nsecond line")
    assert ti == f"<TaskInstance alerts.one_try {run_id} try 1>"


def test_a_broken_template_falls_back_to_the_built_in_and_says_why(
    stored: Stored, smtp_server: MailServer, tmp_path: Path
) -> None:
    body = tmp_path / "body.html"
    body.write_text("{{ no_such_name.attribute }}")
    missing = tmp_path / "missing.txt"
    mailing = _alerting(stored, smtp_server, subject_template=str(missing),
                        html_content_template=str(body))  # fmt: skip
    run_id = mailing.trigger("alerts")

    mailing.run("alerts", run_id, "one_try")

    (received,) = smtp_server.messages
    assert received.message["Subject"].startswith("Sluice alert: <TaskInstance alerts.one_try")
    assert "Try 1 out of 1 of task <b>one_try</b>" in received.html
    log = try_log(mailing, "alerts", run_id, "one_try", 1)
    assert f"[email] subject_template {missing} cannot be read (No such file or directory)" in log
    assert f"[email] html_content_template {body} failed to render (UndefinedError" in log


def test_a_try_the_scheduler_failed_sends_its_alert(
    stored: Stored, smtp_server: MailServer
) -> None:
    mailing = _alerting(stored, smtp_server)
    run_id = mailing.trigger("alerts")
    path = mailing.folder / "alerts.py"
    why = "the try's process did not finish it: killed by signal 9"
    workload = CallbackWorkload(
        "alerts", run_id, str(path), "retry", why, task_id="flaky", try_number=1
    )

    code = run_callback_workload(
        workload, settings=mailing.settings, store=mailing.store, dags=mailing.dags
    )

    assert code == RAN
    (received,) = smtp_server.messages
    assert (
        received.message["Subject"] == f"Sluice alert: <TaskInstance alerts.flaky {run_id} try 1>"
    )
    assert "will be retried" in received.html
    assert "the try&#x27;s process did not finish it: killed by signal 9" in received.html


@pytest.mark.parametrize(
    ("run_id", "task_id", "map_index"),
    [
        ("manual__2024-03-15T00:00:00+00:00", "load", -1),
        ("scheduled__2024-03-15T00:00:00+00:00", "group.inner task", 3),
        ("a/b?c#d", "t", 0),
    ],
)
def test_the_log_link_is_the_web_ui_s_task_instance_log(
    run_id: str, task_id: str, map_index: int
) -> None:
    # alerts.py builds the path itself (integrations may not import the web package):
    # it must stay the one the web UI serves.
    url = task_log_url("https://ui.example.com/", "d.a-g", run_id, task_id, map_index, 2)
    expected = instance_url("d.a-g", run_id, task_id, map_index=map_index, try_number=2)
    assert url == f"https://ui.example.com{expected}#log"
