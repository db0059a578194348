"""BaseNotifier: templates rendered with the task's context and the DAG's Jinja
environment, a fresh copy per call, usable alone or in a list of callbacks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.integrations.http.conftest import Recorder, set_connection

from sluice import DAG
from sluice.core.errors import TemplateError
from sluice.core.states import TaskInstanceState
from sluice.integrations.http import HttpHook
from sluice.integrations.notifiers import BaseNotifier
from sluice.operators import PythonOperator
from sluice.runner.local_run import LocalDagRun

S = TaskInstanceState
MakeRun = Callable[..., LocalDagRun]


class Sent(list[dict[str, Any]]):
    """What a notifier sent; shared by the copies a DAG run makes of its tasks."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Sent:
        return self


class Recording(BaseNotifier):
    """Keeps what it was asked to send."""

    template_fields = ("text", "channel", "extra")

    def __init__(self, text: str, channel: str = "#alerts", extra: Any = None) -> None:
        super().__init__()
        self.text = text
        self.channel = channel
        self.extra = extra
        self.sent = Sent()

    def notify(self, context: dict[str, Any]) -> None:
        self.sent.append(
            {"text": self.text, "channel": self.channel, "extra": self.extra,
             "exception": context.get("exception")}
        )  # fmt: skip


class Broken(BaseNotifier):
    """Fails to send."""

    def notify(self, context: dict[str, Any]) -> None:
        raise RuntimeError("the chat service is down")


def _fail() -> None:
    raise ValueError("bad row 7")


def test_a_failure_callback_notifier_gets_the_rendered_fields(make_run: MakeRun) -> None:
    notifier = Recording(
        "{{ dag.dag_id }}.{{ ti.task_id }} failed on {{ ds }}: {{ exception }}",
        extra={"run": "{{ run_id }}", "tags": ["{{ ds_nodash }}"]},
    )
    with DAG("notify_dag") as dag:
        PythonOperator(task_id="load", python_callable=_fail, on_failure_callback=notifier)
    (record,) = make_run(dag).execute().instances
    assert record.state == S.FAILED
    (sent,) = notifier.sent
    assert sent["text"] == "notify_dag.load failed on 2024-03-15: bad row 7"
    assert sent["extra"] == {"run": "manual__2024-03-15T00:00:00+00:00", "tags": ["20240315"]}
    assert isinstance(sent["exception"], ValueError)
    # The instance keeps its templates: a second task's call renders them afresh.
    assert notifier.text.startswith("{{ dag.dag_id }}")


def test_one_notifier_serves_several_tasks(make_run: MakeRun) -> None:
    notifier = Recording("{{ ti.task_id }} succeeded")
    with DAG("many", default_args={"on_success_callback": notifier}) as dag:
        PythonOperator(task_id="a", python_callable=lambda: 1)
        PythonOperator(task_id="b", python_callable=lambda: 2)
    make_run(dag).execute()
    assert sorted(s["text"] for s in notifier.sent) == ["a succeeded", "b succeeded"]


def test_a_field_may_name_another_field(make_run: MakeRun) -> None:
    notifier = Recording("posted to {{ channel }}", channel="#{{ dag.dag_id }}")
    with DAG("chan") as dag:
        PythonOperator(task_id="t", python_callable=lambda: 1, on_success_callback=notifier)
    make_run(dag).execute()
    # As Airflow: the context gets the fields' values before they are rendered.
    assert notifier.sent[0]["text"] == "posted to #{{ dag.dag_id }}"
    assert notifier.sent[0]["channel"] == "#chan"


def test_a_notifier_that_raises_is_logged_and_the_next_one_runs(
    make_run: MakeRun, caplog: pytest.LogCaptureFixture
) -> None:
    after = Recording("still sent")
    with DAG("raising") as dag:
        PythonOperator(task_id="t", python_callable=_fail, on_failure_callback=[Broken(), after])
    with caplog.at_level(logging.ERROR):
        (record,) = make_run(dag).execute().instances
    assert record.state == S.FAILED
    assert [s["text"] for s in after.sent] == ["still sent"]
    raised = [r for r in caplog.records if "on_failure_callback" in r.getMessage()]
    assert len(raised) == 1 and "<Broken> raised; carrying on" in raised[0].getMessage()
    assert raised[0].exc_info is not None and "chat service is down" in str(raised[0].exc_info[1])


def test_template_files_come_from_the_dags_search_path(tmp_path: Path, make_run: MakeRun) -> None:
    (tmp_path / "alert.txt").write_text("{{ ti.task_id }} failed ({{ params.team }})")

    class FileNotifier(Recording):
        template_ext = (".txt",)

    notifier = FileNotifier("alert.txt")
    with DAG("files", template_searchpath=[str(tmp_path)], params={"team": "data"}) as dag:
        PythonOperator(task_id="t", python_callable=_fail, on_failure_callback=notifier)
    make_run(dag).execute()
    assert notifier.sent[0]["text"] == "t failed (data)"


def test_user_defined_macros_of_the_dag_are_there(make_run: MakeRun) -> None:
    notifier = Recording("{{ owner_of(ti.task_id) }}")
    with DAG("macros", user_defined_macros={"owner_of": lambda t: f"@{t}-team"}) as dag:
        PythonOperator(task_id="t", python_callable=lambda: 1, on_success_callback=notifier)
    make_run(dag).execute()
    assert notifier.sent[0]["text"] == "@t-team"


def test_an_undefined_name_is_a_template_error_naming_the_field() -> None:
    notifier = Recording("{{ no_such_thing }}")
    with DAG("d") as dag:
        pass
    with pytest.raises(TemplateError) as info:
        notifier({"dag": dag})
    assert str(info.value) == "Recording field 'text': 'no_such_thing' is undefined"
    assert notifier.sent == []


def test_notify_must_be_implemented() -> None:
    class Nothing(BaseNotifier):
        pass

    with pytest.raises(TypeError, match=r"abstract method '?notify"):
        Nothing()  # type: ignore[abstract]


def test_without_a_dag_in_the_context_the_default_environment_renders() -> None:
    notifier = Recording("{{ reason | upper }}")
    notifier({"reason": "task_failure"})
    assert notifier.sent[0]["text"] == "TASK_FAILURE"


class TeamsNotifier(BaseNotifier):
    """The "write your own" example of docs/operators/notifications.md."""

    template_fields = ("text",)

    def __init__(self, *, http_conn_id: str, text: str) -> None:
        super().__init__()
        self.http_conn_id, self.text = http_conn_id, text

    def notify(self, context: dict[str, Any]) -> None:
        HttpHook(http_conn_id=self.http_conn_id).run(json={"text": self.text})


def test_the_documented_webhook_notifier_posts_its_rendered_text(
    http_server: Recorder, monkeypatch: pytest.MonkeyPatch, make_run: MakeRun
) -> None:
    set_connection(monkeypatch, "teams", {"conn_type": "http", "host": f"{http_server.url}/teams"})
    notifier = TeamsNotifier(http_conn_id="teams", text="{{ ti.task_id }} failed: {{ exception }}")
    with DAG("teams_dag") as dag:
        PythonOperator(task_id="load", python_callable=_fail, on_failure_callback=notifier)
    make_run(dag).execute()
    (got,) = http_server.to("/teams")
    assert (got.method, got.json()) == ("POST", {"text": "load failed: bad row 7"})
