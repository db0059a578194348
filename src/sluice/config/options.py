"""The table of settings (section, key, type, default, doc) and the sluice.toml it documents."""

from __future__ import annotations

import difflib
import json
import re
import textwrap
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from sluice.core.errors import ConfigError

HOME_PLACEHOLDER = "{SLUICE_HOME}"
MASK = "***"


class Kind(StrEnum):
    """The type a setting's value is converted to."""

    BOOL = "a boolean (true/false/1/0/yes/no)"
    INT = "an integer"
    FLOAT = "a number"
    STR = "a string"
    PATH = "a path"


class BadValue(ValueError):
    """Raised inside conversion; the caller adds which key and where from."""


def _mask_all(value: str) -> str:
    # An empty secret stays visible: "not set" is useful to see and reveals nothing.
    return MASK if value else ""


# The password runs from the ':' after the user name to the '@' before the host. Matching up to
# the last '@' hides a password holding an unescaped '@' too; hiding too much is harmless.
_URL_PASSWORD = re.compile(r"^(?P<head>[\w+.-]+://[^:/@]*:).*(?=@)")
# Drivers such as psycopg also take the password as a query parameter.
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)[^&]*", re.IGNORECASE)


def _mask_url_password(value: str) -> str:
    value = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, value, count=1)
    return _QUERY_PASSWORD.sub(lambda m: m["head"] + MASK, value)


@dataclass(frozen=True)
class Option:
    """One setting: where it lives, its type, its default and what it is for."""

    section: str
    key: str
    kind: Kind
    default: bool | int | float | str
    doc: str
    minimum: float | None = None
    choices: tuple[str, ...] = ()
    mask: Callable[[str], str] | None = None
    check: Callable[[str], None] | None = None  # raises BadValue for a bad str value


# The one table of settings. Add a key here and it is read, typed, documented in the generated
# sluice.toml and listed by `sluice config`; str and path defaults may use {SLUICE_HOME}.
# fmt: off
OPTIONS: tuple[Option, ...] = (
    Option("core", "dags_folder", Kind.PATH, "{SLUICE_HOME}/dags",
           "Folder scanned, recursively, for DAG files."),
    Option("core", "load_examples", Kind.BOOL, True,
           "Load the example DAGs shipped with Sluice."),
    Option("core", "dagbag_import_timeout", Kind.FLOAT, 30.0,
           "Seconds a DAG file may take to import before it is reported as an import error.",
           minimum=0.0),
    Option("core", "default_timezone", Kind.STR, "UTC",
           "Timezone in which naive datetimes are read: a DAG's start_date and end_date, and"
           ' dates given on the command line (an IANA name such as "Europe/Paris").',
           check=lambda name: _check_timezone(name)),
    Option("core", "parallelism", Kind.INT, 32,
           "Most task instances running at once per scheduler, across all DAGs.", minimum=1),
    Option("core", "max_active_tasks_per_dag", Kind.INT, 16,
           "Default max_active_tasks of a DAG: its task instances running at once.", minimum=1),
    Option("core", "max_active_runs_per_dag", Kind.INT, 16,
           "Default max_active_runs of a DAG: its DAG runs running at once.", minimum=1),
    Option("core", "dags_are_paused_at_creation", Kind.BOOL, True,
           "New DAGs start paused until someone unpauses them."),
    Option("core", "fernet_key", Kind.STR, "",
           "Fernet keys (comma-separated; the first encrypts) that encrypt variable values and"
           " connection passwords and extras at rest. Empty: a key generated on first use and"
           " kept in {SLUICE_HOME}/fernet_key.",
           mask=_mask_all),
    Option("core", "hide_sensitive_var_conn_fields", Kind.BOOL, True,
           "Mask connection passwords and the values of variables whose key looks secret"
           " (as *** in task logs, rendered templates, error messages and pages)."),
    Option("core", "sensitive_var_conn_names", Kind.STR, "",
           "More words (comma-separated) that make a variable key or connection extra field"
           " secret, besides password, secret, token, api_key, private_key, authorization and"
           " the like."),
    Option("logging", "base_log_folder", Kind.PATH, "{SLUICE_HOME}/logs",
           "Folder where task logs are written, one file per task try."),
    Option("logging", "level", Kind.STR, "INFO",
           "Level of Sluice's own log messages.",
           choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
    Option("scheduler", "create_cron_data_intervals", Kind.BOOL, True,
           "true: a cron schedule's run covers the interval between two ticks (Airflow 2);"
           " false: it covers the tick instant only (Airflow 3's CronTriggerTimetable)."),
    Option("scheduler", "catchup_by_default", Kind.BOOL, False,
           "Catchup of DAGs that do not set it: false creates only the latest missed run."),
    Option("scheduler", "catchup_confirm_threshold", Kind.INT, 50,
           "Ask for confirmation before catchup or a backfill creates more runs than this.",
           minimum=0),
    Option("scheduler", "task_heartbeat_timeout", Kind.FLOAT, 300.0,
           "Seconds without a heartbeat after which a running task instance counts as dead"
           " and goes into its retry path.", minimum=1.0),
    Option("scheduler", "task_heartbeat_interval", Kind.FLOAT, 5.0,
           "Seconds between the heartbeats a running task writes.", minimum=0.1),
    Option("scheduler", "job_heartbeat_interval", Kind.FLOAT, 5.0,
           "Seconds between the heartbeats of a scheduler or DAG processor.", minimum=0.1),
    Option("scheduler", "job_heartbeat_timeout", Kind.FLOAT, 60.0,
           "Seconds without a heartbeat after which a scheduler counts as dead and another"
           " takes over what it had queued.", minimum=1.0),
    Option("scheduler", "default_pool_slots", Kind.INT, 128,
           "Slots of default_pool when the database is created.", minimum=1),
    Option("dag_processor", "refresh_interval", Kind.FLOAT, 2.0,
           "Seconds between two scans of the DAGs folder for new, changed or deleted files.",
           minimum=0.1),
    Option("dag_processor", "parsing_processes", Kind.INT, 2,
           "Processes that import DAG files in parallel.", minimum=1),
    Option("database", "sql_alchemy_conn", Kind.STR, "sqlite:///{SLUICE_HOME}/sluice.db",
           "SQLAlchemy URL of the metadata database (PostgreSQL or MySQL in production).",
           mask=_mask_url_password),
    Option("database", "retention_days", Kind.INT, 0,
           "When above 0, the scheduler deletes finished runs (with their task instances,"
           " tries, XComs and logs) older than this many days, once a day.", minimum=0),
    Option("webserver", "base_url", Kind.STR, "http://localhost:8080",
           "URL where users reach the web UI; links in alerts point there."),
    Option("webserver", "host", Kind.STR, "127.0.0.1",
           "Address the web server listens on (0.0.0.0: every interface)."),
    Option("webserver", "port", Kind.INT, 8080,
           "Port the web server listens on.", minimum=1),
    Option("webserver", "session_lifetime_minutes", Kind.INT, 43200,
           "Minutes a login lasts in the browser (default 30 days).", minimum=1),
    Option("webserver", "cookie_secure", Kind.BOOL, False,
           "Send the session cookie over HTTPS only (set it behind TLS)."),
    Option("webserver", "login_attempts", Kind.INT, 5,
           "Failed logins per username or address in 5 minutes before more are refused.",
           minimum=1),
    Option("webserver", "secret_key", Kind.STR, "",
           "Key that signs web sessions; use the same random value on every web server.",
           mask=_mask_all),
    Option("smtp", "smtp_host", Kind.STR, "localhost",
           "SMTP server that sends EmailOperator's mail and task alerts (email_on_failure,"
           " email_on_retry). The connection [email] email_conn_id overrides these keys."),
    Option("smtp", "smtp_port", Kind.INT, 25,
           "Port of the SMTP server (usually 587 with STARTTLS, 465 with smtp_ssl).", minimum=1),
    Option("smtp", "smtp_starttls", Kind.BOOL, True,
           "Upgrade the connection with STARTTLS before logging in, as Airflow does by default;"
           " set false for a server that offers no TLS."),
    Option("smtp", "smtp_ssl", Kind.BOOL, False,
           "Speak TLS from the first byte (SMTPS, usually port 465); smtp_starttls is then not"
           " used."),
    Option("smtp", "smtp_user", Kind.STR, "",
           "User to log in to the SMTP server as; empty: no login."),
    Option("smtp", "smtp_password", Kind.STR, "",
           "Password of smtp_user.",
           mask=_mask_all),
    Option("smtp", "smtp_mail_from", Kind.STR, "sluice@localhost",
           "Sender address of the mail, when neither the task, the email connection's from_email"
           " extra nor [email] from_email gives one."),
    Option("smtp", "smtp_timeout", Kind.FLOAT, 30.0,
           "Seconds to wait for the SMTP server to answer before giving up on a connection.",
           minimum=0.1),
    Option("smtp", "smtp_retry_limit", Kind.INT, 5,
           "Further attempts to connect after the first fails (refused, dropped or timed out).",
           minimum=0),
    Option("email", "email_conn_id", Kind.STR, "smtp_default",
           "Connection whose host, port, login, password and extra (from_email, disable_tls,"
           " disable_ssl, timeout, retry_limit) override [smtp] when it is defined; empty:"
           " [smtp] only."),
    Option("email", "from_email", Kind.STR, "",
           'Sender of the mail, such as "Data team <data@example.com>"; empty:'
           " [smtp] smtp_mail_from."),
    Option("email", "subject_template", Kind.STR, "",
           "Jinja file rendered as the subject of failure and retry alerts; empty: the built-in"
           ' "Sluice alert: <TaskInstance ...>".'),
    Option("email", "html_content_template", Kind.STR, "",
           "Jinja file rendered as the HTML body of failure and retry alerts; empty: the"
           " built-in body (DAG, task, run, try, exception and a link to the log)."),
)
# fmt: on

BY_KEY: Mapping[tuple[str, str], Option] = MappingProxyType(
    {(o.section, o.key): o for o in OPTIONS}
)
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(o.section for o in OPTIONS))


def find_option(section: str, key: str, where: str = "") -> Option:
    """The option of [section] key; for an unknown one, a ConfigError naming close ones."""
    try:
        return BY_KEY[(section, key)]
    except KeyError:
        message = _unknown(section, key)
        raise ConfigError(f"{message} {where}" if where else message) from None


def default_config_text() -> str:
    """Return the documented sluice.toml written on first use, every key commented out."""
    lines = [
        "# Sluice settings. Each key shows its default; uncomment a line to change it.",
        "# {SLUICE_HOME} stands for this file's folder; ~ is your home directory.",
        "# Env vars SLUICE__<SECTION>__<KEY> override this file; command-line flags override both.",
    ]
    for section in SECTIONS:
        lines += ["", f"[{section}]"]
        for option in (o for o in OPTIONS if o.section == section):
            lines += [f"# {line}" for line in textwrap.wrap(option.doc, width=88)]
            if option.choices:
                lines.append(f"# One of: {', '.join(option.choices)}.")
            lines.append(f"# {option.key} = {_toml_literal(option.default)}")
    return "\n".join(lines) + "\n"


def _unknown(section: str, key: str) -> str:
    if section not in SECTIONS:
        hint = _did_you_mean(section, SECTIONS) or f"sections are {', '.join(SECTIONS)}"
        return f"Unknown config section [{section}] ({hint})"
    keys = [o.key for o in OPTIONS if o.section == section]
    hint = _did_you_mean(key, keys) or f"keys of [{section}] are {', '.join(keys)}"
    return f"Unknown config key [{section}] {key} ({hint})"


def _did_you_mean(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f"did you mean {close[0]!r}?" if close else ""


def _check_timezone(name: str) -> None:
    if name.upper() == "UTC":
        return
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise BadValue('expected an IANA timezone name such as "Europe/Paris"') from None


def _toml_literal(value: bool | int | float | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string.
        return json.dumps(value)
    return repr(value)
