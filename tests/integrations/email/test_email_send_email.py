"""send_email through a real SMTP server: recipients, body, charset, attachments, login,
TLS, the email connection over [smtp], retries, and what it refuses."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from tests.integrations.email.conftest import USER, FlakyProxy, MailServer, free_port, settings_with

from sluice.config import Settings
from sluice.core.errors import ConfigError
from sluice.integrations.email import EmailError, SmtpError, send_email, smtp_config
from sluice.integrations.errors import ConnectionDefinitionError, ConnectionNotFound
from sluice.integrations.lookup import connection_env_name


def _settings(tmp_path: Path, server: MailServer | None = None, **more: object) -> Settings:
    overrides = server.overrides(**more) if server else {}
    if server is None:
        overrides = {("smtp", key): value for key, value in more.items()}
    return settings_with(tmp_path / "home", overrides)


def _define(monkeypatch: pytest.MonkeyPatch, conn_id: str, fields: dict[str, object]) -> None:
    monkeypatch.setenv(connection_env_name(conn_id), json.dumps(fields))


# -- the message -------------------------------------------------------------------------


def test_to_cc_and_bcc_reach_everyone_and_bcc_stays_out_of_the_headers(
    tmp_path: Path, smtp_server: MailServer
) -> None:
    send_email(
        "a@example.com; b@example.com",
        "Daily report",
        "<p>All good</p>",
        cc=["c@example.com", "d@example.com"],
        bcc="e@example.com, f@example.com",
        settings=_settings(tmp_path, smtp_server),
    )

    (received,) = smtp_server.messages
    assert received.rcpt_tos == [f"{x}@example.com" for x in "abcdef"]
    assert received.mail_from == "sluice@localhost"  # [smtp] smtp_mail_from's default
    message = received.message
    assert message["To"] == "a@example.com, b@example.com"
    assert message["CC"] == "c@example.com, d@example.com"
    assert message["Bcc"] is None
    assert b"e@example.com" not in received.data
    assert message["Subject"] == "Daily report"
    assert message["From"] == "sluice@localhost"
    assert message["Date"] is not None
    assert message.get_content_type() == "multipart/mixed"
    assert received.html == "<p>All good</p>"
    assert received.login is None


def test_html_body_charset_non_ascii_subject_and_attachments(
    tmp_path: Path, smtp_server: MailServer
) -> None:
    report = tmp_path / "résumé.csv"
    report.write_bytes(b"id,total\n1,42\n")
    image = tmp_path / "chart.png"
    image.write_bytes(bytes(range(256)))

    send_email(
        ["a@example.com"],
        "Café ☕ report",
        "<p>Total: 42 €, ça va</p>",
        files=[str(report), image],
        mime_subtype="related",
        mime_charset="iso-8859-15",
        custom_headers={"X-Sluice-Run": "manual__1", "Reply-To": "team@example.com"},
        settings=_settings(tmp_path, smtp_server),
    )

    message = smtp_server.messages[0].message
    assert message.get_content_type() == "multipart/related"
    assert message["Subject"] == "Café ☕ report"
    assert message["X-Sluice-Run"] == "manual__1"
    assert message["Reply-To"] == "team@example.com"
    body = message.get_body(("html",))
    assert body is not None
    assert body.get_content_charset() == "iso-8859-15"
    assert body.get_content() == "<p>Total: 42 €, ça va</p>"  # type: ignore[attr-defined]
    files = {part.get_filename(): part.get_content() for part in message.iter_attachments()}  # type: ignore[attr-defined]
    assert files == {"résumé.csv": b"id,total\n1,42\n", "chart.png": bytes(range(256))}


def test_sender_comes_from_the_argument_then_the_connection_then_email_then_smtp(
    tmp_path: Path, smtp_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, smtp_server, smtp_mail_from="smtp@example.com")
    send_email("a@example.com", "s", "b", settings=settings)
    settings = _settings(
        tmp_path, smtp_server, smtp_mail_from="smtp@example.com", from_email="Team <t@example.com>"
    )
    send_email("a@example.com", "s", "b", settings=settings)
    _define(monkeypatch, "smtp_default", {"conn_type": "smtp", "extra": {"from_email": "c@x.org"}})
    send_email("a@example.com", "s", "b", settings=settings)
    send_email("a@example.com", "s", "b", from_email="arg@example.com", settings=settings)

    senders = [(m.mail_from, m.message["From"]) for m in smtp_server.messages]
    assert senders == [
        ("smtp@example.com", "smtp@example.com"),
        ("t@example.com", "Team <t@example.com>"),
        ("c@x.org", "c@x.org"),
        ("arg@example.com", "arg@example.com"),
    ]


# -- the server: login, TLS, the connection ----------------------------------------------


def test_logs_in_with_smtp_user_and_password(tmp_path: Path, auth_server: MailServer) -> None:
    settings = _settings(tmp_path, auth_server, smtp_user=USER, smtp_password="s3cret")
    send_email("a@example.com", "s", "b", settings=settings)
    assert [m.login for m in auth_server.messages] == [USER]


def test_a_refused_login_names_the_user_not_the_password(
    tmp_path: Path, auth_server: MailServer
) -> None:
    settings = _settings(tmp_path, auth_server, smtp_user=USER, smtp_password="wrong-pass")
    with pytest.raises(SmtpError, match=f"refused the login of '{USER}'") as caught:
        send_email("a@example.com", "s", "b", settings=settings)
    assert "wrong-pass" not in str(caught.value)
    assert not auth_server.messages


def test_a_user_for_a_server_without_login_is_explained(
    tmp_path: Path, smtp_server: MailServer
) -> None:
    settings = _settings(tmp_path, smtp_server, smtp_user="someone", smtp_password="pw")
    with pytest.raises(SmtpError, match=r"offers no login \(AUTH\), yet a user \('someone'\)"):
        send_email("a@example.com", "s", "b", settings=settings)


def test_starttls_then_login_over_tls(tmp_path: Path, tls_server: MailServer) -> None:
    settings = _settings(
        tmp_path, tls_server, smtp_starttls=True, smtp_user=USER, smtp_password="s3cret"
    )
    send_email("a@example.com", "s", "<p>secret</p>", settings=settings)
    (received,) = tls_server.messages
    assert (received.tls, received.login, received.html) == (True, USER, "<p>secret</p>")


def test_smtp_ssl_speaks_tls_from_the_first_byte(tmp_path: Path, smtps_server: MailServer) -> None:
    # smtp_starttls stays true (its default): over SMTPS there is nothing to upgrade.
    settings = _settings(tmp_path, smtps_server, smtp_ssl=True, smtp_starttls=True)
    send_email("a@example.com", "over tls", "b", settings=settings)
    assert [m.message["Subject"] for m in smtps_server.messages] == ["over tls"]


def test_starttls_against_a_server_without_it_says_how_to_turn_it_off(
    tmp_path: Path, smtp_server: MailServer
) -> None:
    settings = _settings(tmp_path, smtp_server, smtp_starttls=True)
    with pytest.raises(SmtpError, match=r"does not offer STARTTLS.*smtp_starttls = false"):
        send_email("a@example.com", "s", "b", settings=settings)


def test_smtp_ssl_against_a_plain_server_fails_with_a_hint(
    tmp_path: Path, smtp_server: MailServer
) -> None:
    settings = _settings(tmp_path, smtp_server, smtp_ssl=True, smtp_timeout=5.0)
    with pytest.raises(SmtpError, match=r"TLS with the SMTP server .* failed.*smtp_ssl = false"):
        send_email("a@example.com", "s", "b", settings=settings)


def test_the_email_connection_overrides_smtp_settings(
    tmp_path: Path, auth_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # [smtp] points at a port where nothing listens: only the connection can deliver.
    settings = _settings(
        tmp_path, None, smtp_host="localhost", smtp_port=free_port(), smtp_user="ignored",
        smtp_starttls=True, smtp_ssl=False, smtp_retry_limit=0,
    )  # fmt: skip
    uri = (
        f"smtp://{USER}:s3cret@127.0.0.1:{auth_server.port}/?disable_tls=true&from_email=c%40x.org"
    )
    monkeypatch.setenv(connection_env_name("smtp_default"), uri)

    send_email("a@example.com", "via the connection", "b", settings=settings)

    (received,) = auth_server.messages
    assert (received.login, received.mail_from) == (USER, "c@x.org")
    config = smtp_config(settings)
    assert (config.host, config.port, config.starttls, config.conn_id) == (
        "127.0.0.1", auth_server.port, False, "smtp_default",
    )  # fmt: skip


def test_a_connection_named_by_the_caller_must_exist(
    tmp_path: Path, smtp_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, smtp_server)
    with pytest.raises(ConnectionNotFound, match="'mail_relay'"):
        send_email("a@example.com", "s", "b", conn_id="mail_relay", settings=settings)
    # The default smtp_default may be missing: [smtp] alone is used.
    send_email("a@example.com", "s", "b", settings=settings)
    # A connection named in [email] email_conn_id must exist too.
    settings = _settings(tmp_path, smtp_server, email_conn_id="mail_relay")
    with pytest.raises(ConnectionNotFound, match="'mail_relay'"):
        send_email("a@example.com", "s", "b", settings=settings)
    assert len(smtp_server.messages) == 1


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"timeout": "soon"}, "extra timeout must be a number of at least 0.1, not 'soon'"),
        ({"retry_limit": -1}, "extra retry_limit must be a whole number of at least 0"),
        ({"disable_tls": "maybe"}, "extra disable_tls must be true or false, not 'maybe'"),
        ({"from_email": 5}, "extra from_email must be text, not 5"),
    ],
)
def test_bad_connection_extras_name_the_connection_and_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict[str, object], problem: str
) -> None:
    _define(monkeypatch, "smtp_default", {"conn_type": "smtp", "extra": extra})
    with pytest.raises(ConnectionDefinitionError, match=f"connection 'smtp_default': {problem}"):
        smtp_config(_settings(tmp_path))


# -- an unreachable server, retries ------------------------------------------------------


def test_a_down_server_is_tried_retry_limit_more_times(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    settings = _settings(tmp_path, None, smtp_host="127.0.0.1", smtp_port=port,
                         smtp_starttls=False, smtp_retry_limit=2)  # fmt: skip
    with (
        caplog.at_level(logging.WARNING, "sluice.task"),
        pytest.raises(
            SmtpError, match=f"cannot connect to the SMTP server 127.0.0.1:{port} after 3 attempt"
        ) as caught,
    ):
        send_email("a@example.com", "s", "b", settings=settings)
    assert "Connection refused" in str(caught.value)
    assert [r.getMessage().split(" failed")[0] for r in caplog.records] == [
        f"email: attempt {n} of 3 to connect to 127.0.0.1:{port}" for n in (1, 2, 3)
    ]


def test_a_dropped_connection_is_retried_until_it_holds(
    tmp_path: Path, smtp_server: MailServer
) -> None:
    proxy = FlakyProxy(smtp_server, drop=2)
    try:
        settings = _settings(tmp_path, None, smtp_host="127.0.0.1", smtp_port=proxy.port,
                             smtp_starttls=False, smtp_retry_limit=2)  # fmt: skip
        send_email("a@example.com", "third time lucky", "b", settings=settings)
        assert proxy.accepted == 3
        assert [m.message["Subject"] for m in smtp_server.messages] == ["third time lucky"]

        proxy.accepted, proxy.drop = 0, 2
        settings = _settings(tmp_path, None, smtp_host="127.0.0.1", smtp_port=proxy.port,
                             smtp_starttls=False, smtp_retry_limit=1)  # fmt: skip
        with pytest.raises(SmtpError, match=r"after 2 attempt.*unexpectedly closed"):
            send_email("a@example.com", "s", "b", settings=settings)
        assert len(smtp_server.messages) == 1
    finally:
        proxy.close()


# -- bad inputs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"to": ""}, "no recipient: to, cc and bcc hold no address"),
        ({"to": " ; , "}, "no recipient"),
        ({"to": [], "cc": None}, "no recipient"),
        ({"to": ["a@example.com", 7]}, "to holds 7, which is not an address"),
        ({"to": 42}, "to must be an address, a string of addresses"),
        ({"cc": "x@example.com\nBcc: evil@example.com"}, "cc .* holds a line break"),
        ({"subject": None}, "subject must be a string"),
        ({"mime_charset": "klingon"}, "mime_charset 'klingon' is not a known character set"),
        ({"html_content": "café", "mime_charset": "ascii"}, "cannot encode"),
        ({"custom_headers": {"Bad Name": "x"}}, "custom header name 'Bad Name'"),
        ({"custom_headers": {"X-A": "1\r\nBcc: evil@x"}}, "holds a line break"),
        ({"from_email": "a@x\r\nBcc: evil@x"}, "From .* holds a line break"),
    ],
)
def test_bad_messages_are_refused_before_connecting(
    tmp_path: Path, smtp_server: MailServer, kwargs: dict[str, object], problem: str
) -> None:
    arguments: dict[str, object] = {"to": "a@example.com", "subject": "s", "html_content": "b"}
    arguments.update(kwargs)
    with pytest.raises(EmailError, match=problem):
        send_email(settings=_settings(tmp_path, smtp_server), **arguments)  # type: ignore[arg-type]
    assert not smtp_server.messages


def test_a_missing_or_unreadable_attachment_is_named(
    tmp_path: Path, smtp_server: MailServer
) -> None:
    settings = _settings(tmp_path, smtp_server)
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(EmailError, match=f"attachment '{missing}' not found"):
        send_email("a@example.com", "s", "b", files=[missing], settings=settings)
    with pytest.raises(EmailError, match=f"attachment '{tmp_path}' is a directory"):
        send_email("a@example.com", "s", "b", files=[tmp_path], settings=settings)
    assert not smtp_server.messages


def test_a_bad_port_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[smtp\] smtp_port .*expected at least 1"):
        _settings(tmp_path, None, smtp_port=0)
    settings = _settings(tmp_path, None, smtp_port=70000)
    with pytest.raises(SmtpError, match=r"port of \[smtp\] smtp_port must be from 1 to 65535"):
        send_email("a@example.com", "s", "b", settings=settings)


# -- imports -----------------------------------------------------------------------------


def test_importing_email_or_the_runner_imports_no_smtplib() -> None:
    code = (
        "import sys, sluice.integrations.email, sluice.runner.execute;"
        "heavy = [m for m in ('smtplib', 'email.mime.multipart') if m in sys.modules];"
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
