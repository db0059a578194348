"""Pages: the task instance page (log tailing, clear and mark with confirmation) and the
task instance browser (filters, pages, bulk clear)."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from sqlalchemy import select, update
from tests.cli_db.helpers import audit_events, move_ti, run_state, ti_states
from tests.web.conftest import Web
from tests.web.ti_helpers import Seeded, add_try, add_xcom, seed, set_log_path, write_log

from sluice.store.tables import TaskInstance, TaskTry
from sluice.web.pages import task_instance

XSS = "<script>alert(1)</script>"


def page_url(seeded: Seeded, task_id: str = "transform", suffix: str = "") -> str:
    return f"/dags/etl/runs/{quote(seeded.bad, safe='')}/tasks/{task_id}{suffix}"


def with_log(web: Web, text: str, state: str = "failed") -> Seeded:
    """The failed run's transform with try 1 (``state``) and its log file."""
    seeded = seed(web)
    path = write_log(web, f"dag_id=etl/run_id={seeded.bad}/task_id=transform/attempt=1.log", text)
    add_try(web.store, "etl", seeded.bad, "transform", 1, state=state, log_path=str(path),
            error=f"ValueError: {XSS}")  # fmt: skip
    return seeded


def test_the_page_shows_everything_escaped(web: Web) -> None:
    seeded = with_log(web, f"hello from the task\n{XSS}\n")
    add_xcom(web.store, "etl", seeded.bad, "transform", "return_value", {"html": XSS})
    with web.store.transaction() as session:
        session.execute(
            update(TaskInstance)
            .where(TaskInstance.run_id == seeded.bad, TaskInstance.task_id == "transform")
            .values(rendered_fields=json.dumps({"bash_command": f"echo {XSS}"}))
        )
    page = web.client("Viewer").get(page_url(seeded))
    assert page.status_code == 200, page.text
    text = page.text
    assert "hello from the task" in text and "Try</th><td>1 of 2" in text
    assert "EmptyOperator" in text and "all_success" in text  # the task's definition
    assert "echo &lt;script&gt;alert(1)&lt;/script&gt;</pre>" in text  # rendered field
    assert "&#34;html&#34;: &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;" in text  # XCom
    assert XSS not in text
    assert "worker-1" in text and "ValueError: &lt;script&gt;" in text  # the try's row
    assert "/log/download?try_number=1" in text
    assert "hx-get" not in text  # the try is over: no tailing
    assert 'action="/dags/etl/runs/' not in text  # a Viewer gets no actions


def test_actions_shown_to_operators(web: Web) -> None:
    seeded = seed(web)
    text = web.client("User").get(page_url(seeded)).text
    assert f'action="{page_url(seeded, suffix="/clear")}"' in text
    assert f'action="{page_url(seeded, suffix="/mark")}"' in text
    assert "has not run yet" not in text  # transform ran try 1 (no log file: empty)


def test_live_tailing_of_a_running_try(web: Web) -> None:
    seeded = with_log(web, "first line\n", state="running")
    client = web.client("Viewer")
    page = client.get(page_url(seeded)).text
    poll = re.search(r'hx-get="([^"]+)" hx-trigger="every 1500ms"', page)
    assert poll, page
    url = poll.group(1).replace("&amp;", "&")
    assert url.endswith("offset=11")
    quiet = client.get(url)
    assert quiet.status_code == 200 and "hx-get" in quiet.text  # nothing new: keep polling
    log = web.settings.base_log_folder / f"dag_id=etl/run_id={seeded.bad}/task_id=transform"
    with (log / "attempt=1.log").open("a") as handle:
        handle.write(f"second {XSS}\n")
    more = client.get(url)
    assert more.status_code == 200
    assert "second &lt;script&gt;" in more.text and "offset=44" in more.text
    add_try_end(web, seeded)
    last = client.get(url.replace("offset=11", "offset=44"))
    assert last.status_code == 286 and "hx-get" not in last.text  # 286: htmx stops polling


def add_try_end(web: Web, seeded: Seeded) -> None:
    """The running try ends."""
    with web.store.transaction() as session:
        session.execute(update(TaskTry).where(TaskTry.run_id == seeded.bad).values(state="success"))


def test_log_partial_and_download_refuse_paths_outside_the_logs_folder(web: Web) -> None:
    seeded = with_log(web, "inside\n")
    secret = web.settings.home / "secret.txt"
    secret.write_text("TOP SECRET")
    client = web.client("Admin")
    download = client.get(page_url(seeded, suffix="/log/download?try_number=1"))
    assert download.status_code == 200 and download.text == "inside\n"
    assert "attachment" in download.headers["content-disposition"]
    link = web.settings.base_log_folder / "link.log"
    link.symlink_to(secret)
    for stored in ("/etc/passwd", str(web.settings.base_log_folder / ".." / "secret.txt"),
                   str(link)):  # fmt: skip
        set_log_path(web.store, "etl", "transform", stored)
        for suffix in ("/log?try_number=1", "/log/download?try_number=1", ""):
            response = client.get(page_url(seeded, suffix=suffix))
            # The page itself shows, with the reason in place of the log.
            assert response.status_code == (200 if suffix == "" else 403), (stored, suffix)
            assert "TOP SECRET" not in response.text and "root:" not in response.text
            assert "outside the logs folder" in response.text


def test_mapped_task_lists_its_map_indexes(web: Web) -> None:
    seeded = seed(web)
    client = web.client("Viewer")
    base = f"/dags/mapped/runs/{quote(seeded.mapped, safe='')}/tasks/double"
    listing = client.get(base)
    assert listing.status_code == 200 and "mapped: 3 instances" in listing.text
    for index in (0, 1, 2):
        assert f'href="{base}?map_index={index}"' in listing.text
    one = client.get(f"{base}?map_index=1")
    assert one.status_code == 200 and "[1]" in one.text
    assert 'class="log-poll"' in one.text  # no state yet: its first try's log is awaited
    missing = client.get(f"{base}?map_index=9")
    assert missing.status_code == 404 and "has no map index 9" in missing.text


def test_unknown_ids_are_404_pages(web: Web) -> None:
    seeded = seed(web)
    client = web.client("Viewer")
    unknown_task = client.get(page_url(seeded, "nope"))
    assert unknown_task.status_code == 404 and "Task &#39;nope&#39; not found" in unknown_task.text
    unknown_run = client.get("/dags/etl/runs/nope/tasks/extract")
    assert unknown_run.status_code == 404 and "Run &#39;nope&#39; not found" in unknown_run.text
    bad_try = client.get(page_url(seeded, suffix="?try_number=5"))
    assert bad_try.status_code == 404 and "has no try 5" in bad_try.text


def test_clear_shows_a_dry_run_then_clears_exactly_that(web: Web) -> None:
    seeded = seed(web)
    client = web.client("User")
    url = page_url(seeded, suffix="/clear")
    dry = client.submit(url, {"downstream": "1"})
    assert dry.status_code == 200, dry.text
    assert "Clear 2 task instances?" in dry.text
    ids = re.findall(r'name="ids" value="(\d+)"', dry.text)
    assert len(ids) == 2
    assert ti_states(web.store, "etl", seeded.bad)["transform"] == "failed"  # nothing yet
    done = client.submit(url, {"downstream": "1", "confirmed": "1", "ids": ids})
    assert done.status_code == 303 and done.headers["location"] == page_url(seeded)
    assert ti_states(web.store, "etl", seeded.bad) == {
        "extract": "success", "transform": None, "load": None,
    }  # fmt: skip
    assert run_state(web.store, "etl", seeded.bad) == "queued"
    assert ("ui_tasks_clear", "etl") in audit_events(web.store)
    assert "Cleared 2 task instance(s)" in client.get(page_url(seeded)).text


def test_clear_confirmed_with_fewer_ids_clears_only_those(web: Web) -> None:
    seeded = seed(web)
    client = web.client("User")
    url = page_url(seeded, suffix="/clear")
    transform = re.findall(r'name="ids" value="(\d+)"', client.submit(url, {}).text)
    assert len(transform) == 1
    client.submit(url, {"downstream": "1", "confirmed": "1", "ids": transform})
    assert ti_states(web.store, "etl", seeded.bad) == {
        "extract": "success", "transform": None, "load": "upstream_failed",
    }  # fmt: skip


def test_viewer_cannot_clear_or_mark(web: Web) -> None:
    seeded = seed(web)
    client = web.client("Viewer")
    clear = client.submit(page_url(seeded, suffix="/clear"), {"confirmed": "1", "ids": ["1"]})
    assert clear.status_code == 403 and "a role is needed to trigger, clear" in clear.text
    mark = client.submit(page_url(seeded, suffix="/mark"), {"state": "success", "confirmed": "1"})
    assert mark.status_code == 403
    no_csrf = web.client("Admin").post(page_url(seeded, suffix="/mark"),
                                       data={"state": "success", "confirmed": "1"})  # fmt: skip
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    bulk = client.submit("/task-instances/clear", {"ids": ["1", "2"], "confirmed": "1"})
    assert bulk.status_code == 403
    assert ti_states(web.store, "etl", seeded.bad)["transform"] == "failed"


def test_mark_with_confirmation(web: Web) -> None:
    seeded = seed(web)
    client = web.client("User")
    url = page_url(seeded, suffix="/mark")
    ask = client.submit(url, {"state": "success"})
    assert ask.status_code == 200 and "Mark transform as success?" in ask.text
    assert ti_states(web.store, "etl", seeded.bad)["transform"] == "failed"
    done = client.submit(url, {"state": "success", "confirmed": "1"})
    assert done.status_code == 303
    assert ti_states(web.store, "etl", seeded.bad)["transform"] == "success"
    assert "Marked transform as success." in client.get(page_url(seeded)).text
    again = client.submit(url, {"state": "success", "confirmed": "1"})
    assert again.status_code == 303
    assert "already success" in client.get(page_url(seeded)).text
    bad = client.submit(url, {"state": "running", "confirmed": "1"})
    assert bad.status_code == 400 and "not &#39;running&#39;" in bad.text


# -- the browser ----------------------------------------------------------------------------


def test_browse_filters_and_pages(web: Web) -> None:
    seeded = seed(web)
    client = web.client("Viewer")
    every = client.get("/task-instances")
    assert every.status_code == 200 and "· 10 task instances" in every.text
    assert 'name="ids"' not in every.text  # a Viewer gets no bulk clear
    failed = client.get("/task-instances?state=failed&state=upstream_failed&dag_id=etl").text
    assert "· 2 task instances" in failed and seeded.bad in failed and seeded.good not in failed
    dated = client.get("/task-instances?start=2024-01-02&end=2024-01-02").text
    assert "· 3 task instances" in dated
    by_task = client.get("/task-instances?task_id=double").text
    assert "· 3 task instances" in by_task
    bad_date = client.get("/task-instances?start=yesterday")
    assert bad_date.status_code == 400
    assert "run date from: &#39;yesterday&#39; is not a date" in bad_date.text
    bad_state = client.get("/task-instances?state=exploded")
    assert bad_state.status_code == 400 and "unknown state" in bad_state.text
    with web.store.transaction() as session:
        total = len(list(session.scalars(select(TaskInstance.id))))
    assert total == 10


def test_browse_pagination_links(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(web)
    monkeypatch.setattr(task_instance, "PAGE_SIZE", 4)
    page = web.client("Viewer").get("/task-instances?dag_id=etl").text
    assert "Page 1 of 2 · 6 task instances" in page and "offset=4" in page
    assert "offset=0" not in page  # no link back from the first page
    second = web.client("Viewer").get("/task-instances?dag_id=etl&offset=4").text
    assert "Page 2 of 2 · 6 task instances" in second and "offset=0" in second
    assert 'href="/task-instances?dag_id=etl&amp;offset=0"' in second


def test_bulk_clear_dry_run_then_clear(web: Web) -> None:
    seeded = seed(web)
    move_ti(web.store, "mapped", seeded.mapped, "numbers", "running")
    client = web.client("Op")
    listing = client.get("/task-instances?dag_id=etl&state=failed&state=upstream_failed").text
    ids = re.findall(r'name="ids" value="(\d+)"', listing)
    assert len(ids) == 2
    with web.store.transaction() as session:
        running = session.scalars(
            select(TaskInstance.id).where(TaskInstance.task_id == "numbers")
        ).one()
    dry = client.submit("/task-instances/clear", {"ids": [*ids, str(running)]})
    assert dry.status_code == 200 and "Clear 2 task instances?" in dry.text
    assert "Running, left alone" in dry.text
    assert ti_states(web.store, "etl", seeded.bad)["transform"] == "failed"
    confirm_ids = re.findall(r'name="ids" value="(\d+)"', dry.text)
    assert sorted(confirm_ids) == sorted(ids)
    done = client.submit("/task-instances/clear", {"ids": confirm_ids, "confirmed": "1"})
    assert done.status_code == 303
    assert ti_states(web.store, "etl", seeded.bad) == {
        "extract": "success", "transform": None, "load": None,
    }  # fmt: skip
    assert run_state(web.store, "etl", seeded.bad) == "queued"
    assert ti_states(web.store, "mapped", seeded.mapped)["numbers"] == "running"
    assert "Cleared 2 task instance(s)" in client.get("/task-instances").text
    nothing = client.submit("/task-instances/clear", {})
    assert nothing.status_code == 303
    assert "Select the task instances" in client.get("/task-instances").text
