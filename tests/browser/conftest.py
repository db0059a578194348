"""Browser tests: Playwright driving Debian's Chromium against a real ``sluice standalone``.

They run when ``SLUICE_TEST_CHROMIUM`` names a Chromium binary (``.ci/run`` sets
``/usr/bin/chromium`` after ``apt-get install chromium``); no browser is ever downloaded.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ENV = "SLUICE_TEST_CHROMIUM"
SCREENSHOTS_ENV = "SLUICE_UPDATE_SCREENSHOTS"
"""Set to 1 to save the screenshots into docs/images/ (otherwise into pytest's temp dir)."""
SLUICE = str(Path(sys.executable).with_name("sluice"))
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


@dataclass
class Standalone:
    """A running ``sluice standalone``: its URL, admin password, home and output file."""

    url: str
    password: str
    home: Path
    dags: Path
    output: Path
    process: subprocess.Popen[str]

    def log(self) -> str:
        return self.output.read_text()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(condition: Any, timeout: float, what: str, standalone: Standalone | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            output = standalone.log() if standalone else ""
            raise AssertionError(f"timed out waiting for {what}\n{output}")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium binary to drive, or skip."""
    path = os.environ.get(CHROMIUM_ENV)
    if not path:
        pytest.skip(f"browser tests are off: set {CHROMIUM_ENV}=/usr/bin/chromium to enable them")
    if not Path(path).exists():
        pytest.fail(f"{CHROMIUM_ENV}={path} does not exist (apt-get install chromium)")
    return path


# Module-scoped, not session-scoped: the standalone and Playwright's driver are children
# of pytest, and later tests count pytest's children.
@pytest.fixture(scope="module")
def standalone(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Standalone]:
    """``sluice standalone`` on SQLite in a temporary home, with the example DAGs."""
    tmp = tmp_path_factory.mktemp("standalone")
    home, dags = tmp / "home", tmp / "dags"
    dags.mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE")}
    env.update(
        SLUICE_HOME=str(home),
        SLUICE__CORE__DAGS_FOLDER=str(dags),
        SLUICE__CORE__PARALLELISM="4",
        SLUICE__DAG_PROCESSOR__REFRESH_INTERVAL="0.5",
    )
    output = tmp / "standalone.out"
    with output.open("w") as out:
        process = subprocess.Popen(
            [SLUICE, "standalone", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    running = Standalone(f"http://127.0.0.1:{port}", "", home, dags, output, process)
    try:
        _wait(lambda: "Ctrl-C stops everything" in running.log(), 60, "standalone", running)
        found = re.search(r"user admin, password (\S+)", running.log())
        assert found, running.log()
        running.password = found[1]
        _wait(lambda: _answers(running.url), 30, "the web server", running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, standalone: Standalone) -> Iterator[Any]:
    """A fresh browser page logged in as the standalone admin."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{standalone.url}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", standalone.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{standalone.url}/")
    yield page
    context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save the page as <name>.png: into docs/images/ (shown in the README) when
    SLUICE_UPDATE_SCREENSHOTS=1, else into a temporary folder."""
    update = os.environ.get(SCREENSHOTS_ENV) == "1"
    folder = IMAGES if update else Path(tempfile.gettempdir()) / "sluice-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size > 10_000  # a page was drawn, not a blank
    return path
