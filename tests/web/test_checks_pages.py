"""Pages: the data-quality card of the task instance page, the list of checked tables at
/checks and a table's grid of checks over its runs at /checks?table=<t>."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import quote

import pytest
from tests.web.conftest import Web
from tests.web.test_api_checks import XSS, seed_checks

from sluice.web.pages import checks as checks_page


def ti_page(run_id: str, task_id: str = "transform", query: str = "") -> str:
    return f"/dags/etl/runs/{quote(run_id, safe='')}/tasks/{task_id}{query}"


def card(html: str) -> str:
    """The data-quality card of a task instance page."""
    found = re.search(r'<section class="card" id="checks">(.*?)</section>', html, re.S)
    assert found, html
    return found.group(1)


def badges(html: str) -> list[str]:
    return re.findall(r'<span class="state check-(\w+)"', html)


def test_the_card_shows_the_latest_try_with_links_and_escaping(web: Web) -> None:
    seeded = seed_checks(web)
    page = web.client("Viewer").get(ti_page(seeded.bad))
    assert page.status_code == 200, page.text
    shown = card(page.text)
    assert "Data-quality checks of try 2" in shown
    assert badges(shown) == ["fail", "warn", "pass"]
    assert "<td>customer_id</td>" in shown and "null_check equal_to 0" in shown
    assert "<code>1</code>" in shown and "<code>2</code>" not in shown  # try 1's value
    assert '<a href="/checks?table=orders">orders</a>' in shown
    assert '<a href="/checks?table=customers">customers</a>' in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown and XSS not in page.text
    assert f'{ti_page(seeded.bad, query="?try_number=1")}#checks"' in shown
    # The card sits after the task definition card and before the tries.
    text = page.text
    assert text.index("Task definition") < text.index('id="checks"') < text.index("<h2>Tries")


def test_the_card_of_an_earlier_try_and_of_tasks_without_checks(web: Web) -> None:
    seeded = seed_checks(web)
    client = web.client("Viewer")
    first = card(client.get(ti_page(seeded.bad, query="?try_number=1")).text)
    assert "Data-quality checks of try 1" in first and badges(first) == ["fail", "pass"]
    assert "<code>2</code>" in first
    assert 'id="checks"' not in client.get(ti_page(seeded.bad, "extract")).text
    mapped = client.get(
        f"/dags/mapped/runs/{quote(seeded.mapped, safe='')}/tasks/double?map_index=1"
    )
    assert badges(card(mapped.text)) == ["pass"]
    assert '<a href="/checks?table=numbers">numbers</a>' in mapped.text


def test_the_list_of_checked_tables(web: Web) -> None:
    seed_checks(web)
    client = web.client("Viewer")
    page = client.get("/checks")
    assert page.status_code == 200, page.text
    table = re.search(r'<table class="list" id="checked-tables">(.*?)</table>', page.text, re.S)
    assert table, page.text
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(\d+)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>",
                      table.group(1), re.S)  # fmt: skip
    listed = [(unescape(re.sub("<[^>]+>", "", name)), int(count), re.sub("<[^>]+>", "", failed)
               .strip(), re.sub("<[^>]+>", "", warned).strip()) for name, count, failed, warned
              in rows]  # fmt: skip
    assert listed == [
        ("numbers", 1, "0", "0"),  # the most recently checked first
        ("customers", 1, "0", "0"),
        ("orders", 6, "fail 2", "warn 1"),
    ]
    assert "2024-01-03 09:00:00 UTC" in page.text  # when orders was last checked
    assert '<a href="/checks">Data-quality checks</a>' in page.text  # in the navigation
    login = web.client().get("/checks", follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/login?next=/checks"


def test_the_grid_of_a_table(web: Web) -> None:
    seeded = seed_checks(web)
    page = web.client("Viewer").get("/checks?table=orders")
    assert page.status_code == 200, page.text
    grid = re.search(r'<table class="list" id="check-grid">(.*?)</table>', page.text, re.S)
    assert grid, page.text
    heads = re.findall(r'<th class="ti-when"><a href="([^"]+)"', grid.group(1))
    bad, good = (f"/dags/etl/runs/{quote(run, safe='')}" for run in (seeded.bad, seeded.good))
    assert heads == [bad, good]  # the latest run first
    rows = re.findall(r"<tr>\s*<td>([^<]*)</td>(.*?)</tr>", grid.group(1), re.S)
    assert [name for name, _ in rows] == ["row_count_check", "null_check"]
    cells = {name: badges(rest) for name, rest in rows}
    assert cells == {"row_count_check": ["warn", "pass"], "null_check": ["fail", "pass"]}
    # The bad run's cells show its latest try (2) and open it.
    links = re.findall(r'<td><a href="([^"]+)" title="([^"]+)">', grid.group(1))
    assert (
        unescape(links[0][0]) == ti_page(seeded.bad, query="?try_number=2") + "#checks"
        and "observed false; expected COUNT(*) &gt; 0 (try 2)" in links[0][1]
    )
    assert "customer_id" in grid.group(1) and "etl</a>.transform" in grid.group(1)


def test_the_grid_is_paginated_by_runs(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    seeded = seed_checks(web)
    monkeypatch.setattr(checks_page, "RUNS_PER_PAGE", 1)
    client = web.client("Viewer")
    first = client.get("/checks?table=orders").text
    assert "Page 1 of 2 · 2 runs" in first and quote(seeded.good, safe="") not in first
    second = client.get("/checks?table=orders&page=2").text
    assert "Page 2 of 2" in second and quote(seeded.bad, safe="") not in second
    assert badges(second.split('id="check-grid"')[1]) == ["pass", "pass"]


def test_an_unknown_table_and_escaped_names(web: Web) -> None:
    seed_checks(web)
    client = web.client("Viewer")
    missing = client.get("/checks", params={"table": XSS})
    assert missing.status_code == 404
    assert "No check results for table '&lt;script&gt;alert(1)" in missing.text
    assert XSS not in missing.text
    assert client.get("/checks?page=0").status_code == 422
