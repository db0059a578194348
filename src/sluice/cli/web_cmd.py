"""``sluice webserver``, and the web server that ``sluice standalone`` starts."""

from __future__ import annotations

import gc
import multiprocessing
import os
import secrets
import signal
import socket
from pathlib import Path

import click

from sluice.cli.loading import cli_settings
from sluice.cli.output import warn
from sluice.cli.store_access import open_store
from sluice.cli.stored_dags import CommandRefused
from sluice.config import Settings
from sluice.store.engine import Store
from sluice.store.users import count_users, create_user, get_user

ADMIN = "admin"
ADMIN_PASSWORD_FILE = "standalone_admin_password.txt"
STOP_GRACE = 10.0


def serve(settings: Settings, store: Store, host: str, port: int, *, quiet: bool = False) -> None:
    """Serve the UI and the REST API until SIGINT or SIGTERM (``quiet``: warnings only)."""
    import uvicorn

    from sluice.web.app import create_app

    app = create_app(settings, store)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning" if quiet else settings.get_str("logging", "level").lower(),
        access_log=False,
        server_header=False,
    )
    uvicorn.Server(config).run()


@click.command("webserver")
@click.option("--host", "-H", default=None, help="Address to listen on ([webserver] host).")
@click.option(
    "--port", "-p", type=click.IntRange(1, 65535), default=None, help="Port ([webserver] port)."
)
def webserver(host: str | None, port: int | None) -> None:
    """Serve the web UI and the REST API (/api/v1) until Ctrl-C.

    Log in with a user made by `sluice users create`.
    """
    settings = cli_settings(overrides={("webserver", "host"): host, ("webserver", "port"): port})
    store = open_store(settings)
    host = settings.get_str("webserver", "host")
    port = settings.get_int("webserver", "port")
    try:
        check_port_free(host, port)
        with store.transaction() as session:
            nobody = count_users(session) == 0
        click.echo(
            f"Web server on http://{_display(host)}:{port} (pid {os.getpid()}); Ctrl-C stops it."
        )
        if nobody:
            warn("No user can log in yet: create one with `sluice users create -u NAME -r Admin`.")
        serve(settings, store, host, port, quiet=True)
    finally:
        store.dispose()


def check_port_free(host: str, port: int) -> None:
    """Refuse, in one sentence, a port that something already listens on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandRefused(
                f"the web server cannot listen on {host}:{port}: {exc.strerror} (another"
                " Sluice?); choose another port with --port or [webserver] port"
            ) from None


def _display(host: str) -> str:
    return "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host


def ensure_admin(settings: Settings, store: Store) -> str | None:
    """The standalone admin's password when it was made now or is still in its file.

    The first start creates user ``admin`` with a random password, written to
    SLUICE_HOME/standalone_admin_password.txt (owner-readable only); later starts print it
    again from there while the file exists.
    """
    path = settings.home / ADMIN_PASSWORD_FILE
    with store.transaction() as session:
        if get_user(session, ADMIN) is not None:
            return _read(path)
        password = secrets.token_urlsafe(12)
        create_user(session, ADMIN, password, "Admin")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def start_webserver(settings: Settings, store: Store) -> multiprocessing.process.BaseProcess:
    """The web server in a child process (forked before any thread of the parent starts)."""
    # What both processes imported stays shared: the child's collector must not touch
    # (and so copy) every inherited object.
    gc.freeze()
    context = multiprocessing.get_context("fork")
    host, port = settings.get_str("webserver", "host"), settings.get_int("webserver", "port")
    process = context.Process(
        target=_webserver_main, args=(settings, store, host, port), name="sluice-webserver"
    )
    process.start()
    return process


def _webserver_main(settings: Settings, store: Store, host: str, port: int) -> None:
    store.engine.dispose(close=False)  # the parent's connections are the parent's
    serve(settings, store, host, port, quiet=True)


def stop_webserver(process: multiprocessing.process.BaseProcess) -> None:
    """Stop the web server child: SIGTERM, then SIGKILL after a grace period."""
    if process.is_alive() and process.pid is not None:
        os.kill(process.pid, signal.SIGTERM)
    process.join(STOP_GRACE)
    if process.is_alive():
        process.kill()
        process.join()


def url(settings: Settings) -> str:
    """Where the web server answers, for people."""
    host = _display(settings.get_str("webserver", "host"))
    return f"http://{host}:{settings.get_int('webserver', 'port')}"
