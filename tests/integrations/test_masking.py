"""The secrets masker: on its own, and through a real task run, its log, the stored
rendered fields and error, and the pages and API that show them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.runner.conftest import Stored
from tests.web.conftest import Web

from sluice.config import load_settings
from sluice.core.messages import RunnerExit
from sluice.core.states import TaskInstanceState
from sluice.integrations.masking import MASKER, SecretsMasker, mask_secret, mask_text, redact
from sluice.store import connections, variables

PASSWORD = "s3cr3t-Pa55/word"
TOKEN = "tok-abcdef-123456"


@pytest.fixture(autouse=True)
def fresh_masker() -> Iterator[None]:
    MASKER.clear()
    MASKER.configure(enabled=True, extra_words=())
    yield
    MASKER.clear()
    MASKER.configure(enabled=True, extra_words=())


def test_a_registered_secret_is_masked_in_text_and_data() -> None:
    mask_secret("hunter2-long")
    assert mask_text("login with hunter2-long now") == "login with *** now"
    assert redact({"a": ["x hunter2-long y"], "b": 1}) == {"a": ["x *** y"], "b": 1}


def test_secret_named_fields_are_masked_even_unregistered() -> None:
    assert redact({"headers": {"Authorization": "Bearer abc"}, "user": "ann"}) == {
        "headers": {"Authorization": "***"},
        "user": "ann",
    }
    assert redact("plain value", "api_key") == "***"
    assert redact("", "password") == ""


def test_short_values_and_non_sensitive_names_are_not_registered() -> None:
    mask_secret("root")  # shorter than MIN_LENGTH: masking it everywhere hides too much
    mask_secret("public-bucket", name="bucket")  # the name does not look secret
    assert mask_text("root reads public-bucket") == "root reads public-bucket"


def test_the_percent_encoded_form_and_each_line_are_masked() -> None:
    mask_secret("pa@ss:word\nsecond-line")
    assert mask_text("postgresql://u:pa%40ss%3Aword@h/db") == "postgresql://u:***@h/db"
    assert mask_text("key: second-line") == "key: ***"


def test_extra_words_make_more_names_secret_and_disabled_masks_nothing() -> None:
    masker = SecretsMasker()
    masker.configure(enabled=True, extra_words=["dsn"])
    assert masker.redact({"warehouse_dsn": "x://y"}) == {"warehouse_dsn": "***"}
    masker.add("value-of-dsn", name="DSN")
    assert masker.mask_text("is value-of-dsn") == "is ***"
    masker.configure(enabled=False, extra_words=[])
    assert masker.mask_text("is value-of-dsn") == "is value-of-dsn"
    assert masker.redact({"password": "x"}) == {"password": "x"}


SOURCE = """
from sluice.integrations.hooks.base import BaseHook
from sluice import Variable

def leak():
    conn = BaseHook.get_connection("warehouse")
    print("printed:", conn.password)
    logging.getLogger("sluice.task").info("logged %s via %s", conn.password, conn.get_uri())
    print("token:", Variable.get("api_token"), "bucket:", Variable.get("bucket"))
    raise ValueError(f"cannot log in with {conn.password}")

with DAG("leaky", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    PythonOperator(task_id="leak", python_callable=leak)
    BashOperator(
        task_id="bash",
        bash_command="echo pw={{ conn.warehouse.password }} tok={{ var.value.api_token }}",
        env={"DB_PASSWORD": "{{ conn.warehouse.password }}", "HOST": "{{ conn.warehouse.host }}"},
    )
    PythonSensor(task_id="wait", python_callable=lambda: True, mode="reschedule", poke_interval=7)
"""


def test_a_connection_password_never_reaches_a_log_a_stored_field_or_a_page(
    stored: Stored, web: Web, tmp_path: Path
) -> None:
    from sluice.web.app import create_app

    with stored.store.transaction() as session:
        connections.create_connection(
            session, "warehouse", {"conn_type": "postgres", "host": "db.internal"}, PASSWORD
        )
        variables.set_variable(session, "api_token", TOKEN)
        variables.set_variable(session, "bucket", "raw-data-bucket")
    stored.write("leaky.py", SOURCE)
    run_id = stored.trigger("leaky")

    assert stored.run("leaky", run_id, "leak") == RunnerExit.OUTCOME_WRITTEN
    assert stored.run("leaky", run_id, "bash") == RunnerExit.OUTCOME_WRITTEN
    assert stored.ti("leaky", run_id, "leak").state == TaskInstanceState.FAILED
    assert stored.ti("leaky", run_id, "bash").state == TaskInstanceState.SUCCESS

    text = "\n".join(p.read_text() for p in (tmp_path / "logs").rglob("*.log"))
    assert "printed: ***" in text
    assert "logged *** via postgres://:***@db.internal" in text
    assert "ValueError: cannot log in with ***" in text
    assert "token: *** bucket: raw-data-bucket" in text  # only secret-named variables
    assert "pw=*** tok=***" in text  # the command's output, logged line by line
    (error,) = [t.error for t in stored.tries("leaky", "leak")]
    assert error == "ValueError: cannot log in with ***"
    rendered = json.loads(stored.ti("leaky", run_id, "bash").rendered_fields or "")
    assert rendered["bash_command"] == "echo pw=*** tok=***"
    assert rendered["env"] == {"DB_PASSWORD": "***", "HOST": "db.internal"}

    app = Web(app=create_app(stored.settings, stored.store), settings=stored.settings,
              store=stored.store)  # fmt: skip
    client = app.client("viewer")
    api = app.api("viewer")
    pages = [
        client.get(f"/dags/leaky/runs/{run_id}/tasks/{task}{suffix}")
        for task in ("leak", "bash")
        for suffix in ("", "/log?try_number=1")
    ]
    pages += [
        api.get(f"/api/v1/dags/leaky/dagRuns/{run_id}/taskInstances/{task}{suffix}")
        for task in ("leak", "bash")
        for suffix in ("", "/logs/1")
    ]
    for page in pages:
        assert page.status_code in (200, 286), (page.url, page.text[:300])  # 286: htmx, done
        for secret in (PASSWORD, TOKEN, "s3cr3t-Pa55%2Fword"):
            assert secret not in page.text, page.url
    assert "pw=***" in pages[3].text  # the bash log page shows the masked line
    # The command's last line went to XCom as it was: pages and the API mask it.
    assert "pw=*** tok=***" in pages[2].text
    xcom = api.get(
        f"/api/v1/dags/leaky/dagRuns/{run_id}/taskInstances/bash/xcomEntries/return_value"
    )
    assert xcom.json()["value"] == "pw=*** tok=***"
    # The task details show each argument, secret-named ones masked even unrendered.
    assert "DB_PASSWORD&#34;: &#34;***&#34;" in pages[2].text
    sensor = client.get(f"/dags/leaky/runs/{run_id}/tasks/wait").text
    arguments = sensor.split('id="task-arguments"')[1].split("</table>")[0]
    assert "<th>mode</th><td><pre>reschedule</pre>" in arguments
    assert "<th>poke_interval</th><td><pre>7.0</pre>" in arguments
    for secret in (PASSWORD, TOKEN, "s3cr3t-Pa55%2Fword"):
        assert secret not in text


def test_masking_can_be_turned_off(stored: Stored, tmp_path: Path) -> None:
    stored.settings = load_settings(
        home=tmp_path / "home",
        env={},
        overrides={
            ("database", "sql_alchemy_conn"): stored.store.url,
            ("logging", "base_log_folder"): str(tmp_path / "logs"),
            ("core", "hide_sensitive_var_conn_fields"): False,
        },
    )
    with stored.store.transaction() as session:
        connections.create_connection(
            session, "warehouse", {"conn_type": "postgres", "host": "db.internal"}, PASSWORD
        )
        variables.set_variable(session, "api_token", TOKEN)
        variables.set_variable(session, "bucket", "raw-data-bucket")
    stored.write("leaky.py", SOURCE)
    run_id = stored.trigger("leaky")
    stored.run("leaky", run_id, "leak")
    (error,) = [t.error for t in stored.tries("leaky", "leak")]
    assert error == f"ValueError: cannot log in with {PASSWORD}"


def test_a_piece_of_log_never_shows_part_of_a_secret(tmp_path: Path) -> None:
    from sluice.api.log_files import read_log, stream_log

    path = tmp_path / "attempt=1.log"
    path.write_text("connect with hunter2-supersecret ok\nnext line\n")
    masker = SecretsMasker()
    masker.add("hunter2-supersecret")
    secret_at = path.read_text().index("hunter2")
    # A piece that starts inside the secret, and one whose end cuts it.
    inside = read_log(path, secret_at + 1, over=True, masker=masker)
    assert inside.content == "*** ok\nnext line\n"
    cut = read_log(path, 0, over=True, masker=masker, max_bytes=secret_at + 4)
    assert cut.content == "connect with ***"
    rest = read_log(path, cut.offset, over=True, masker=masker)
    assert rest.content.startswith("*** ok")
    assert b"".join(stream_log(path, masker)).decode() == "connect with *** ok\nnext line\n"


def test_many_secrets_are_masked_at_once() -> None:
    masker = SecretsMasker()
    with masker.batch():
        for n in range(2000):
            masker.add(f"secret-value-{n:05d}")
    assert masker.mask_text("a secret-value-01999 b secret-value-0 c") == "a *** b secret-value-0 c"
    # Longest first: a secret that begins with another is masked whole.
    masker.add("secret-value-01999-and-more")
    assert masker.mask_text("x secret-value-01999-and-more y") == "x *** y"


def test_escaped_forms_and_json_values_of_a_secret_variable_are_masked() -> None:
    from sluice.integrations.masking import register_variable

    register_variable("db_password", "it's\\secret")
    assert mask_text(repr("it's\\secret")) in ("'***'", '"***"')
    assert mask_text(json.dumps({"pw": "it's\\secret"})) == '{"pw": "***"}'
    # A secret-named JSON variable: each of its values, as read with deserialize_json.
    register_variable("api_secret", '{"client_id": "abc-client-123", "scope": "reports"}')
    assert mask_text("id abc-client-123 scope reports") == "id *** scope ***"
