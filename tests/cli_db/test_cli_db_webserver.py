"""``sluice webserver`` and ``sluice standalone`` refuse a port something listens on."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from tests.cli_db.conftest import Sluice
from tests.cli_db.helpers import error_line


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


@pytest.mark.parametrize("command", ["webserver", "standalone"])
def test_a_port_in_use_is_one_clear_error(sluice: Sluice, busy_port: int, command: str) -> None:
    result = sluice(command, "--port", str(busy_port))
    assert result.exit_code == 1
    assert error_line(result) == (
        f"Error: the web server cannot listen on 127.0.0.1:{busy_port}: Address already in use"
        " (another Sluice?); choose another port with --port or [webserver] port"
    )
