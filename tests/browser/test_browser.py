"""A new user's first hour, in a real browser against a real ``sluice standalone``.

Each test leaves screenshots of the pages it visits in docs/images/ (shown in the README).
The tests share one standalone and run in file order: they follow one story.
"""

from __future__ import annotations

import re
import time
from typing import Any

from tests.browser.conftest import Standalone, screenshot

RUN_TIMEOUT = 60_000


def _wait_for(page: Any, check: Any, what: str, timeout: float = 60) -> None:
    """Reload ``page`` until ``check()`` holds (some pages refresh themselves; not all)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
        page.reload()


def test_dag_list_after_login(page: Any, standalone: Standalone) -> None:
    page.wait_for_selector("text=example_params")
    assert page.locator("a", has_text="example_etl").first.is_visible()
    assert "admin" in page.locator("header").inner_text()
    screenshot(page, "dags")


def test_unpause_trigger_with_params_and_see_success(page: Any, standalone: Standalone) -> None:
    # The checkbox is drawn by its label; htmx posts the form and swaps in "Pause ...".
    page.get_by_label("Unpause example_params").locator("xpath=..").click()
    page.get_by_label("Pause example_params").wait_for(state="attached")

    page.goto(f"{standalone.url}/dags/example_params/trigger")
    page.fill("input[name='param.name']", "Ada")
    page.fill("input[name='param.repeat']", "7")  # above the maximum of 5
    page.click("form.trigger-form button[type=submit]")
    error = page.locator(".field-error").first.inner_text()  # shown next to the field
    assert "repeat" in error or "5" in error, error
    page.fill("input[name='param.repeat']", "2")
    page.select_option("select[name='param.language']", label="fr")
    screenshot(page, "trigger")
    page.click("form.trigger-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/dags/example_params/grid.*"))
    assert "manual__" in page.locator(".flash").first.inner_text()

    def run_succeeded() -> bool:
        return page.locator("th.run a[title*='success']").count() >= 1

    _wait_for(page, run_succeeded, "the triggered run to succeed in the grid")
    screenshot(page, "grid")
    page.goto(f"{standalone.url}/dags/example_params/graph")
    page.locator("svg").first.wait_for()
    screenshot(page, "graph")


def test_task_log_and_clear_runs_it_again(page: Any, standalone: Standalone) -> None:
    page.goto(f"{standalone.url}/dags/example_params/grid")
    cell = page.locator("a.cell").first
    cell.click()
    page.wait_for_url(re.compile(r".*/tasks/.*"))
    log = page.locator("#log-text")
    log.wait_for()
    _wait_for(page, lambda: "greeting Ada 2 time(s) in fr" in log.inner_text(), "the log")
    screenshot(page, "task_instance")

    page.click("button:has-text('Clear')")
    page.wait_for_selector("text=go back to no state and run again")  # the dry run
    page.click("button:has-text('Confirm: clear')")

    def ran_again() -> bool:
        # The cleared instance gets a second try (of 2: clearing restores its retries).
        state = page.locator("h1 .state").first.inner_text()
        return state == "success" and "2 of 2" in page.locator("main").inner_text()

    _wait_for(page, ran_again, "the cleared task to run again")


def test_create_a_variable_and_a_connection(page: Any, standalone: Standalone) -> None:
    page.goto(f"{standalone.url}/variables/new")
    page.fill("input[name=key]", "warehouse_schema")
    page.fill("textarea[name=value]", "analytics")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=warehouse_schema")
    screenshot(page, "variables")

    page.goto(f"{standalone.url}/connections/new")
    page.fill("input[name=conn_id]", "warehouse")
    page.select_option("select[name=conn_type]", "postgres")
    page.fill("input[name=host]", "db.example.com")
    page.fill("input[name=login]", "loader")
    page.fill("input[name=password]", "hunter2-secret")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=warehouse")
    assert "hunter2-secret" not in page.content()
    page.goto(f"{standalone.url}/connections/warehouse/edit")
    assert "hunter2-secret" not in page.content()


def test_a_broken_dag_file_shows_an_import_error(page: Any, standalone: Standalone) -> None:
    (standalone.dags / "broken.py").write_text(
        "from sluice import DAG\n\nwith DAG('broken', schedule='not a cron'):\n    pass\n"
    )
    page.goto(f"{standalone.url}/")
    _wait_for(page, lambda: page.locator(".banner").count() > 0, "the import error banner")
    page.locator(".banner a").first.click()
    page.wait_for_selector("text=broken.py")
    assert "not a cron" in page.locator("main").inner_text()
    screenshot(page, "import_errors")
