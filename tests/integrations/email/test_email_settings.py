"""The [smtp] and [email] settings: defaults as Airflow's, environment overrides, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.config import default_config_text, load_settings
from sluice.core.errors import ConfigError
from sluice.integrations.email import smtp_config


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, env={})
    assert {(s, k): v for s, k, v, _ in settings.items() if s in ("smtp", "email")} == {
        ("smtp", "smtp_host"): "localhost",
        ("smtp", "smtp_port"): 25,
        ("smtp", "smtp_starttls"): True,
        ("smtp", "smtp_ssl"): False,
        ("smtp", "smtp_user"): "",
        ("smtp", "smtp_password"): "",
        ("smtp", "smtp_mail_from"): "sluice@localhost",
        ("smtp", "smtp_timeout"): 30.0,
        ("smtp", "smtp_retry_limit"): 5,
        ("email", "email_conn_id"): "smtp_default",
        ("email", "from_email"): "",
        ("email", "subject_template"): "",
        ("email", "html_content_template"): "",
    }
    config = smtp_config(settings)
    assert (config.host, config.port, config.starttls, config.ssl, config.user) == (
        "localhost", 25, True, False, "",
    )  # fmt: skip
    assert (config.mail_from, config.timeout, config.retry_limit, config.conn_id) == (
        "sluice@localhost", 30.0, 5, None,
    )  # fmt: skip


def test_environment_overrides_and_the_password_is_masked(tmp_path: Path) -> None:
    env = {
        "SLUICE__SMTP__SMTP_HOST": "smtp.example.com",
        "SLUICE__SMTP__SMTP_PORT": "587",
        "SLUICE__SMTP__SMTP_SSL": "true",
        "SLUICE__SMTP__SMTP_USER": "sluice",
        "SLUICE__SMTP__SMTP_PASSWORD": "hunter2",
        "SLUICE__EMAIL__FROM_EMAIL": "Data <data@example.com>",
    }
    settings = load_settings(home=tmp_path, env=env)
    assert settings.display_value("smtp", "smtp_password") == "***"
    assert "hunter2" not in repr(smtp_config(settings))
    config = smtp_config(settings)
    # TLS from the first byte: nothing left for STARTTLS to upgrade.
    assert (config.host, config.port, config.ssl, config.starttls) == (
        "smtp.example.com", 587, True, False,
    )  # fmt: skip
    assert (config.user, config.password, config.mail_from) == (
        "sluice", "hunter2", "Data <data@example.com>",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("SLUICE__SMTP__SMTP_PORT", "smtp", "expected an integer"),
        ("SLUICE__SMTP__SMTP_PORT", "0", "expected at least 1"),
        ("SLUICE__SMTP__SMTP_STARTTLS", "maybe", "expected a boolean"),
        ("SLUICE__SMTP__SMTP_TIMEOUT", "0", "expected at least 0.1"),
        ("SLUICE__SMTP__SMTP_RETRY_LIMIT", "-1", "expected at least 0"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, name: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=f"in env {name}: {problem}"):
        load_settings(home=tmp_path, env={name: value})


def test_the_generated_file_documents_both_sections() -> None:
    text = default_config_text()
    smtp, email = text.index("\n[smtp]\n"), text.index("\n[email]\n")
    assert smtp < email
    assert '# smtp_host = "localhost"' in text[smtp:email]
    assert "# smtp_starttls = true" in text[smtp:email]
    assert '# email_conn_id = "smtp_default"' in text[email:]
