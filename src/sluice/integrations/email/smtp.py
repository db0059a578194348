"""Sending email over SMTP, as Airflow's ``send_email_smtp``.

Where to send comes from ``[smtp]``, overridden field by field by the connection named
``conn_id`` (default ``[email] email_conn_id``, ``smtp_default``) when it is defined: its
host, port, login and password, and the extra keys ``from_email``, ``disable_tls``,
``disable_ssl``, ``timeout`` and ``retry_limit``. The message is built as Airflow builds
it: a ``multipart/<mime_subtype>`` holding the HTML body and each file as an attachment.

smtplib and the ``email`` package are imported when a message is built or sent: a DAG
file that uses EmailOperator, and a task runner that sends no alert, import neither.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sluice.integrations.connection import Connection
from sluice.integrations.errors import (
    ConnectionDefinitionError,
    ConnectionNotFound,
    IntegrationError,
)
from sluice.integrations.lookup import get_connection
from sluice.integrations.runtime import current_store

if TYPE_CHECKING:
    import smtplib
    from email.mime.multipart import MIMEMultipart

    from sluice.config import Settings

log = logging.getLogger("sluice.task")

Addresses = str | Iterable[str]
"""One address, several in a string separated by ``,`` or ``;``, or a list of them."""

DEFAULT_CONN_ID = "smtp_default"
_SEPARATORS = re.compile(r"\s*[,;]\s*")
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII but ':' (RFC 5322 field name)
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


class EmailError(IntegrationError):
    """Raised when an email cannot be built: no recipient, a missing attachment, a bad
    header or charset."""


class SmtpError(EmailError):
    """Raised when the SMTP server cannot be reached, or refuses the login, the sender or
    every recipient."""


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send: ``[smtp]`` with the email connection's fields over it."""

    host: str
    port: int
    starttls: bool
    ssl: bool
    user: str
    password: str = field(repr=False)
    mail_from: str
    timeout: float
    retry_limit: int
    """Attempts to connect after the first one failed."""
    conn_id: str | None = None
    """The connection that overrode ``[smtp]``, if one is defined."""

    @property
    def server(self) -> str:
        """``host:port``, for messages."""
        return f"{self.host}:{self.port}"


def smtp_config(
    settings: Settings, conn_id: str | None = None, from_email: str | None = None
) -> SmtpConfig:
    """The SMTP settings to send with: ``[smtp]``, then the connection's fields.

    ``conn_id`` (else ``[email] email_conn_id``) names the connection; when it is not
    defined anywhere, ``[smtp]`` is used alone, unless the caller or the configuration
    named it on purpose (not the default ``smtp_default``): then ConnectionNotFound.
    The sender is ``from_email``, else the connection's ``from_email`` extra, else
    ``[email] from_email``, else ``[smtp] smtp_mail_from``.
    """
    chosen = conn_id if conn_id is not None else settings.get_str("email", "email_conn_id")
    on_purpose = conn_id is not None or settings.source("email", "email_conn_id") != "default"
    conn = _connection(chosen, required=on_purpose) if chosen else None
    extra = conn.extra_dejson if conn is not None else {}
    host = (conn.host if conn is not None else None) or settings.get_str("smtp", "smtp_host")
    port = (conn.port if conn is not None else None) or settings.get_int("smtp", "smtp_port")
    if conn is not None and conn.login:
        user, password = conn.login, conn.password or ""
    else:
        user = settings.get_str("smtp", "smtp_user")
        password = settings.get_str("smtp", "smtp_password")
    starttls = settings.get_bool("smtp", "smtp_starttls")
    ssl = settings.get_bool("smtp", "smtp_ssl")
    timeout = settings.get_float("smtp", "smtp_timeout")
    retry_limit = settings.get_int("smtp", "smtp_retry_limit")
    if conn is not None:
        if "disable_tls" in extra:
            starttls = not _extra_bool(conn, "disable_tls")
        if "disable_ssl" in extra:
            ssl = not _extra_bool(conn, "disable_ssl")
        if "timeout" in extra:
            timeout = _extra_number(conn, "timeout", float, minimum=0.1)
        if "retry_limit" in extra:
            retry_limit = int(_extra_number(conn, "retry_limit", int, minimum=0))
    sender = (
        from_email
        or _extra_str(conn, "from_email")
        or settings.get_str("email", "from_email")
        or settings.get_str("smtp", "smtp_mail_from")
    )
    where = f"connection '{conn.conn_id}'" if conn is not None and conn.port else "[smtp] smtp_port"
    if not 0 < port < 65536:
        raise SmtpError(f"the SMTP port of {where} must be from 1 to 65535, not {port}")
    if not sender.strip():
        raise EmailError(
            "no sender address: set [smtp] smtp_mail_from, [email] from_email, the from_email"
            " extra of the email connection or the task's from_email"
        )
    _check_header_value("From", sender)
    return SmtpConfig(
        host=host,
        port=port,
        starttls=starttls and not ssl,  # TLS from the first byte leaves nothing to upgrade
        ssl=ssl,
        user=user,
        password=password,
        mail_from=sender.strip(),
        timeout=timeout,
        retry_limit=retry_limit,
        conn_id=conn.conn_id if conn is not None else None,
    )


def address_list(addresses: Addresses | None, name: str = "to") -> list[str]:
    """The addresses of ``addresses`` (a string split on ``,`` and ``;``, or a list of
    strings), without empty ones; EmailError naming the argument when one is not text."""
    if addresses is None:
        return []
    if isinstance(addresses, str):
        items: list[str] = [addresses]
    elif isinstance(addresses, Iterable) and not isinstance(addresses, bytes | Mapping):
        items = list(addresses)
    else:
        raise EmailError(
            f"{name} must be an address, a string of addresses separated by ',' or ';', or a"
            f" list of addresses, not {type(addresses).__name__}"
        )
    found: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise EmailError(f"{name} holds {item!r}, which is not an address (a string)")
        for address in _SEPARATORS.split(item.strip()):
            if address:
                _check_header_value(name, address)
                found.append(address)
    return found


def build_mime_message(
    mail_from: str,
    to: Addresses,
    subject: str,
    html_content: str,
    files: Sequence[str | os.PathLike[str]] | None = None,
    cc: Addresses | None = None,
    bcc: Addresses | None = None,
    mime_subtype: str = "mixed",
    mime_charset: str = "utf-8",
    custom_headers: Mapping[str, Any] | None = None,
) -> tuple[MIMEMultipart, list[str]]:
    """The message and every recipient of it (``bcc`` is among the recipients, never in a
    header), as Airflow's ``build_mime_message``."""
    import email.policy
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    from email.utils import formatdate

    to_list = address_list(to, "to")
    cc_list = address_list(cc, "cc")
    bcc_list = address_list(bcc, "bcc")
    if not to_list + cc_list + bcc_list:
        raise EmailError("no recipient: to, cc and bcc hold no address")
    if not isinstance(subject, str):
        raise EmailError(f"subject must be a string, not {type(subject).__name__}")
    if not isinstance(html_content, str):
        raise EmailError(f"html_content must be a string, not {type(html_content).__name__}")
    policy = email.policy.SMTP  # CRLF line ends; non-ASCII headers encoded (RFC 2047)
    message = MIMEMultipart(mime_subtype, policy=policy)
    headers: dict[str, str] = {
        # A subject rendered from a file ends with a newline; a header cannot hold one.
        "Subject": " ".join(subject.splitlines()).strip(),
        "From": mail_from,
    }
    if to_list:
        headers["To"] = ", ".join(to_list)
    if cc_list:
        headers["CC"] = ", ".join(cc_list)
    headers["Date"] = formatdate(localtime=True)
    for name, value in (custom_headers or {}).items():
        check_custom_header(name, value)
        headers[name] = str(value)
    for name, value in headers.items():
        try:
            message[name] = value
        except (ValueError, TypeError) as exc:
            raise EmailError(f"header {name}: {value!r} is not a valid value: {exc}") from None
    try:
        body = MIMEText(html_content, "html", mime_charset, policy=policy)
    except LookupError:
        raise EmailError(f"mime_charset {mime_charset!r} is not a known character set") from None
    except UnicodeEncodeError as exc:
        raise EmailError(
            f"html_content holds {exc.object[exc.start : exc.end]!r}, which mime_charset"
            f" {mime_charset!r} cannot encode"
        ) from None
    message.attach(body)
    for path in files or ():
        name, data = _read_attachment(path)
        part = MIMEApplication(data, Name=name, policy=policy)
        part.add_header("Content-Disposition", "attachment", filename=name)
        part["Content-ID"] = f"<{name}>"
        message.attach(part)
    return message, to_list + cc_list + bcc_list


def send_mime_email(config: SmtpConfig, recipients: Sequence[str], message: MIMEMultipart) -> None:
    """Send ``message`` to ``recipients``: connect (retrying a refused, dropped or timed-out
    connection ``retry_limit`` times), STARTTLS, log in, send."""
    client = _connect(config)
    try:
        if config.starttls:
            _starttls(client, config)
        if config.user:
            _login(client, config)
        refused = _send(client, config, recipients, message)
    finally:
        _close(client)
    if refused:
        # The server took the mail for the others: a partial delivery is not a failure.
        log.warning("the SMTP server %s refused some recipients: %s",
                    config.server, _refused(refused))  # fmt: skip


def send_email(
    to: Addresses,
    subject: str,
    html_content: str,
    files: Sequence[str | os.PathLike[str]] | None = None,
    cc: Addresses | None = None,
    bcc: Addresses | None = None,
    mime_subtype: str = "mixed",
    mime_charset: str = "utf-8",
    conn_id: str | None = None,
    from_email: str | None = None,
    custom_headers: Mapping[str, Any] | None = None,
    *,
    settings: Settings,
) -> None:
    """Send an HTML email with attachments over SMTP, as Airflow's ``send_email``.

    ``to``, ``cc`` and ``bcc`` are an address, a string of addresses separated by ``,``
    or ``;``, or a list; ``files`` are paths attached under their file names; ``settings``
    is the installation's (``context["conf"]`` in a task). Raises EmailError for a
    message that cannot be built and SmtpError when the server cannot be reached or
    refuses it.
    """
    config = smtp_config(settings, conn_id, from_email)
    message, recipients = build_mime_message(
        config.mail_from,
        to,
        subject,
        html_content,
        files=files,
        cc=cc,
        bcc=bcc,
        mime_subtype=mime_subtype,
        mime_charset=mime_charset,
        custom_headers=custom_headers,
    )
    send_mime_email(config, recipients, message)
    log.info("Sent an email to %s through %s", ", ".join(recipients), config.server)


# -- the connection ----------------------------------------------------------------------


def _connection(conn_id: str, *, required: bool) -> Connection | None:
    try:
        return get_connection(conn_id, current_store)
    except ConnectionNotFound:
        if required:
            raise
        return None


def _extra_str(conn: Connection | None, key: str) -> str:
    if conn is None:
        return ""
    value = conn.extra_dejson.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConnectionDefinitionError(
            f"connection '{conn.conn_id}': extra {key} must be text, not {value!r}"
        )
    return value


def _extra_bool(conn: Connection, key: str) -> bool:
    # A URI's extra is text ("?disable_tls=true"); the JSON form may hold a real boolean.
    value = conn.extra_dejson[key]
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConnectionDefinitionError(
        f"connection '{conn.conn_id}': extra {key} must be true or false, not {value!r}"
    )


def _extra_number(conn: Connection, key: str, kind: type[float] | type[int], *,
                  minimum: float) -> float:  # fmt: skip
    value = conn.extra_dejson[key]
    try:
        if isinstance(value, bool):
            raise ValueError
        number = kind(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum:
        what = "a whole number" if kind is int else "a number"
        raise ConnectionDefinitionError(
            f"connection '{conn.conn_id}': extra {key} must be {what} of at least {minimum:g},"
            f" not {value!r}"
        )
    return number


# -- the message -------------------------------------------------------------------------


def _check_header_value(name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise EmailError(f"{name} {value!r} holds a line break, which a mail header cannot hold")


def check_custom_header(name: object, value: object) -> None:
    """EmailError unless ``name: value`` can be a header of a message."""
    if not isinstance(name, str) or not _HEADER_NAME.match(name):
        raise EmailError(
            f"custom header name {name!r} must be printable ASCII without spaces or ':'"
        )
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise EmailError(f"custom header {name} must be text, not {value!r}")
    _check_header_value(f"custom header {name}", str(value))


def _read_attachment(path: object) -> tuple[str, bytes]:
    if not isinstance(path, str | os.PathLike):
        raise EmailError(f"files holds {path!r}, which is not a file path")
    shown = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise EmailError(f"attachment {shown!r} not found") from None
    except IsADirectoryError:
        raise EmailError(f"attachment {shown!r} is a directory, not a file") from None
    except OSError as exc:
        raise EmailError(f"attachment {shown!r} cannot be read: {exc.strerror or exc}") from None
    return os.path.basename(shown), data


# -- the conversation with the server ----------------------------------------------------


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    """A connected client; a refused, dropped or timed-out connection is tried again, up to
    ``retry_limit`` more times, right away (as Airflow)."""
    import smtplib
    import ssl

    attempts = config.retry_limit + 1
    for attempt in range(1, attempts + 1):
        try:
            if config.ssl:
                return smtplib.SMTP_SSL(
                    config.host,
                    config.port,
                    timeout=config.timeout,
                    context=ssl.create_default_context(),
                )
            return smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        except ssl.SSLError as exc:
            # A certificate that does not verify will not verify on the next attempt.
            raise SmtpError(
                f"TLS with the SMTP server {config.server} failed: {exc.reason or exc}"
                f"{_ssl_hint(config)}"
            ) from None
        except OSError as exc:  # refused, reset, timed out, no such host; SMTPConnectError
            log.warning("email: attempt %d of %d to connect to %s failed: %s",
                        attempt, attempts, config.server, _os_reason(exc))  # fmt: skip
            if attempt == attempts:
                raise SmtpError(
                    f"cannot connect to the SMTP server {config.server}{_from(config)} after"
                    f" {attempts} attempt(s): {_os_reason(exc)}"
                ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _starttls(client: smtplib.SMTP, config: SmtpConfig) -> None:
    import smtplib
    import ssl

    try:
        client.starttls(context=ssl.create_default_context())
    except smtplib.SMTPNotSupportedError:
        switch = (
            f"the disable_tls extra of connection '{config.conn_id}'"
            if config.conn_id
            else "[smtp] smtp_starttls = false"
        )
        raise SmtpError(
            f"the SMTP server {config.server} does not offer STARTTLS; to send without TLS,"
            f" set {switch}"
        ) from None
    except ssl.SSLError as exc:
        raise SmtpError(
            f"STARTTLS with the SMTP server {config.server} failed: {exc.reason or exc}"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise SmtpError(f"STARTTLS with the SMTP server {config.server} failed: {exc}") from None


def _login(client: smtplib.SMTP, config: SmtpConfig) -> None:
    import smtplib

    try:
        client.login(config.user, config.password)
    except smtplib.SMTPAuthenticationError as exc:
        raise SmtpError(
            f"the SMTP server {config.server} refused the login of {config.user!r}"
            f"{_from(config)}: {_reply(exc.smtp_code, exc.smtp_error)}"
        ) from None
    except smtplib.SMTPNotSupportedError:
        raise SmtpError(
            f"the SMTP server {config.server} offers no login (AUTH), yet a user"
            f" ({config.user!r}) is set{_from(config)}"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise SmtpError(f"login to the SMTP server {config.server} failed: {exc}") from None


def _send(
    client: smtplib.SMTP, config: SmtpConfig, recipients: Sequence[str], message: MIMEMultipart
) -> dict[str, tuple[int, bytes]]:
    import smtplib

    try:
        return client.sendmail(config.mail_from, list(recipients), message.as_bytes())
    except smtplib.SMTPRecipientsRefused as exc:
        raise SmtpError(
            f"the SMTP server {config.server} refused every recipient: {_refused(exc.recipients)}"
        ) from None
    except smtplib.SMTPSenderRefused as exc:
        raise SmtpError(
            f"the SMTP server {config.server} refused the sender {config.mail_from!r}:"
            f" {_reply(exc.smtp_code, exc.smtp_error)}"
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise SmtpError(
            f"the SMTP server {config.server} refused the message:"
            f" {_reply(exc.smtp_code, exc.smtp_error)}"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise SmtpError(f"sending to the SMTP server {config.server} failed: {exc}") from None


def _close(client: smtplib.SMTP) -> None:
    import smtplib

    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()  # the server hung up first: the mail was sent or refused already


def _refused(recipients: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{rcpt} ({_reply(*reply)})" for rcpt, reply in recipients.items())


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {words}".strip()


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _from(config: SmtpConfig) -> str:
    return f" (from connection '{config.conn_id}')" if config.conn_id else ""


def _ssl_hint(config: SmtpConfig) -> str:
    if config.ssl:
        return (
            "; is the server speaking TLS from the first byte (SMTPS)? If it uses STARTTLS,"
            " set [smtp] smtp_ssl = false"
        )
    return ""
