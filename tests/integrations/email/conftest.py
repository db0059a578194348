"""Real SMTP servers (aiosmtpd) for the email tests, and settings that point at them.

``smtp_server`` keeps every message it receives; ``auth_server`` also takes a login
(``mailer`` / ``s3cret``) over plain SMTP; ``tls_server`` and ``smtps_server`` speak
STARTTLS and TLS from the first byte with a self-signed certificate that the client
trusts through ``SSL_CERT_FILE``. ``mailing`` is the task runner's ``stored`` fixture
with ``[smtp]`` pointing at ``smtp_server``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import email
import email.policy
import errno
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.runner.conftest import Stored, stored  # noqa: F401

from sluice.config import Settings, load_settings

USER, PASSWORD = "mailer", "s3cret"


@dataclass(frozen=True)
class Received:
    """One message as the server received it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None
    """The user the client logged in as, if it did."""
    tls: bool
    """Whether the client upgraded the connection with STARTTLS."""

    @property
    def message(self) -> EmailMessage:
        """The message, parsed."""
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def html(self) -> str:
        """The HTML body, decoded."""
        body = self.message.get_body(("html",))
        assert body is not None
        return str(body.get_content())  # type: ignore[attr-defined]


class Recorder:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Received] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        self.messages.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content or envelope.content,
                login,
                session.ssl is not None,
            )
        )
        return "250 OK"


@dataclass
class MailServer:
    """A running SMTP server and what it received."""

    port: int
    recorder: Recorder
    ssl: bool = False
    host: str = "127.0.0.1"
    controller: Controller | None = field(default=None, repr=False)

    @property
    def messages(self) -> list[Received]:
        """Messages received so far."""
        return self.recorder.messages

    def overrides(self, **more: object) -> dict[tuple[str, str], object]:
        """``[smtp]`` settings that send here (without STARTTLS unless asked)."""
        values: dict[tuple[str, str], object] = {
            ("smtp", "smtp_host"): self.host,
            ("smtp", "smtp_port"): self.port,
            ("smtp", "smtp_starttls"): False,
            ("smtp", "smtp_ssl"): self.ssl,
        }
        for key, value in more.items():
            section = "email" if key in _EMAIL_KEYS else "smtp"
            values[(section, key)] = value
        return values


_EMAIL_KEYS = {"email_conn_id", "from_email", "subject_template", "html_content_template"}


def free_port() -> int:
    """A port nothing listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_with(
    home: Path, overrides: Mapping[tuple[str, str], object], base: Settings | None = None
) -> Settings:
    """Settings of ``home`` (or ``base``'s, keeping what it set) with ``overrides``."""
    kept = {(s, k): v for s, k, v, source in base.items() if source != "default"} if base else {}
    return load_settings(home=base.home if base else home, env={}, overrides={**kept, **overrides})


def _start(recorder: Recorder, **kwargs: Any) -> Controller:
    for _ in range(5):  # another process may take the free port before the server binds it
        controller = Controller(
            recorder, hostname="127.0.0.1", port=free_port(), server_hostname="localhost", **kwargs
        )
        try:
            controller.start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            continue
        return controller
    raise RuntimeError("no free port for the SMTP server")


def _serve(**kwargs: Any) -> Iterator[MailServer]:
    recorder = Recorder()
    controller = _start(recorder, **kwargs)
    try:
        yield MailServer(controller.port, recorder, "ssl_context" in kwargs, controller=controller)
    finally:
        controller.stop()


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


@pytest.fixture
def smtp_server() -> Iterator[MailServer]:
    """A plain SMTP server without TLS or login."""
    yield from _serve()


@pytest.fixture
def auth_server() -> Iterator[MailServer]:
    """A plain SMTP server that offers a login (over plain text: it is a test)."""
    yield from _serve(authenticator=_authenticate, auth_require_tls=False)


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A self-signed certificate of localhost and 127.0.0.1, trusted by clients through
    ``SSL_CERT_FILE``; returns the server's TLS context."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture
def tls_server(certificate: ssl.SSLContext) -> Iterator[MailServer]:
    """An SMTP server that offers STARTTLS and, once upgraded, a login."""
    yield from _serve(tls_context=certificate, authenticator=_authenticate)


@pytest.fixture
def smtps_server(certificate: ssl.SSLContext) -> Iterator[MailServer]:
    """An SMTP server that speaks TLS from the first byte (SMTPS)."""
    yield from _serve(ssl_context=certificate)


@pytest.fixture
def mailing(stored: Stored, smtp_server: MailServer) -> Stored:  # noqa: F811
    """The task runner's stored DAGs, with ``[smtp]`` sending to ``smtp_server``."""
    return use_settings(stored, smtp_server.overrides())


def use_settings(stored: Stored, overrides: Mapping[tuple[str, str], object]) -> Stored:  # noqa: F811
    """``stored`` whose runner reads ``overrides`` on top of its settings."""
    settings = settings_with(stored.settings.home, overrides, base=stored.settings)
    return dataclasses.replace(stored, settings=settings)


def try_log(stored: Stored, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:  # noqa: F811
    """The log of one try of a task instance."""
    folder = stored.settings.base_log_folder
    path = folder / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    return (path / f"attempt={try_number}.log").read_text()


class FlakyProxy:
    """A TCP proxy to a server that hangs up on the first ``drop`` connections."""

    def __init__(self, upstream: MailServer, drop: int) -> None:
        self.upstream = (upstream.host, upstream.port)
        self.drop = drop
        self.accepted = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        self.pipes: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.accepted += 1
            if self.accepted <= self.drop:
                client.close()
                continue
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                pipe = threading.Thread(target=_pipe, args=(source, target), daemon=True)
                self.pipes.append(pipe)
                pipe.start()

    def close(self) -> None:
        """Stop accepting connections; close the ones that ended."""
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join()
        for pipe in self.pipes:
            pipe.join()  # each conversation ended with QUIT: both sides have hung up
        for sock in self.sockets:
            sock.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)
