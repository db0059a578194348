"""Pages: DAG runs, one run (clear with a dry-run list first, delete), import errors and
the audit log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.cli_db.helpers import (
    add_dag,
    add_run,
    audit_events,
    chain_dag,
    finish,
    move_run,
    move_ti,
    run_state,
    ti_states,
)
from tests.web.conftest import Web
from tests.web.test_api_dag_runs import run_count
from tests.web.test_pages_dags import XSS, assert_escaped

from sluice.store.audit import log_event
from sluice.store.tables import ImportErrorRow

DAY = datetime(2024, 1, 1, tzinfo=UTC)


def test_runs_page_filters_and_pages(web: Web) -> None:
    etl = add_dag(web.store, chain_dag("etl"))
    other = add_dag(web.store, chain_dag("other"))
    for day in range(55):
        add_run(web.store, etl, DAY + timedelta(days=day))
    finish(web.store, "other", add_run(web.store, other, DAY, run_id="only"), "failed")
    client = web.client("Viewer")

    def run_ids(url: str) -> list[str]:
        page = client.get(url)
        assert page.status_code == 200, page.text
        return re.findall(r'class="mono">([^<]+)</a>', page.text)

    first = client.get("/runs").text
    assert "Page 1 of 2 · 56 runs" in first
    assert len(run_ids("/runs")) == 50
    assert run_ids("/runs?dag_id=other") == ["only"]
    assert run_ids("/runs?state=failed") == ["only"]
    assert run_ids("/runs?run_type=manual") == []
    assert run_ids("/runs?dag_id=etl&start=2024-02-23&end=2024-02-24") == [
        "scheduled__2024-02-24T00:00:00+00:00",
        "scheduled__2024-02-23T00:00:00+00:00",
    ]
    assert len(run_ids("/runs?page=2")) == 6
    bad = client.get("/runs?start=yesterday")
    assert bad.status_code == 400
    assert "&#39;yesterday&#39; is not a date; use YYYY-MM-DD" in bad.text


def test_run_page_shows_the_run_and_its_tasks(web: Web) -> None:
    etl = add_dag(web.store, chain_dag("etl"))
    run_id = add_run(web.store, etl, DAY)
    move_ti(web.store, "etl", run_id, "extract", "success")
    move_run(web.store, "etl", run_id, "running")
    html = web.client("Viewer").get(f"/dags/etl/runs/{run_id}").text
    assert "scheduled__2024-01-01T00:00:00+00:00" in html
    assert "2024-01-01 00:00:00 UTC to 2024-01-02 00:00:00 UTC" in html
    quoted = run_id.replace(":", "%3A").replace("+", "%2B")
    assert f'href="/dags/etl/runs/{quoted}/tasks/extract"' in html
    assert "Clear the run" not in html and "Delete the run" not in html  # a Viewer
    assert "Clear the run" in web.client("User").get(f"/dags/etl/runs/{run_id}").text
    missing = web.client("Viewer").get("/dags/etl/runs/nope")
    assert missing.status_code == 404
    assert "Run &#39;nope&#39;" in missing.text


def test_clear_run_lists_first_then_clears(web: Web) -> None:
    etl = add_dag(web.store, chain_dag("etl"))
    run_id = add_run(web.store, etl, DAY)
    move_ti(web.store, "etl", run_id, "extract", "success")
    move_ti(web.store, "etl", run_id, "transform", "failed")
    move_ti(web.store, "etl", run_id, "load", "upstream_failed")
    move_run(web.store, "etl", run_id, "failed")
    url = f"/dags/etl/runs/{run_id}/clear"
    client = web.client("User")

    preview = client.submit(url, {"only_failed": "1"})
    assert preview.status_code == 200
    assert "resets these 2 task instances" in preview.text
    assert ">transform</span>" in preview.text and ">extract</span>" not in preview.text
    assert ti_states(web.store, "etl", run_id)["transform"] == "failed"

    done = client.submit(url, {"only_failed": "1", "confirm": "1"})
    assert done.status_code == 303
    assert ti_states(web.store, "etl", run_id) == {
        "extract": "success", "transform": None, "load": None
    }  # fmt: skip
    assert run_state(web.store, "etl", run_id) == "queued"
    page = client.get(done.headers["location"]).text
    assert "Cleared 2 task instances of run" in page and "The run is queued again." in page

    all_preview = client.submit(url, {})
    assert "resets these 1 task instance" in all_preview.text  # only extract has a state


def test_delete_run_page(web: Web) -> None:
    etl = add_dag(web.store, chain_dag("etl"))
    run_id = add_run(web.store, etl, DAY)
    busy = add_run(web.store, etl, DAY + timedelta(days=1))
    move_run(web.store, "etl", busy, "running")
    move_ti(web.store, "etl", busy, "extract", "running")
    client = web.client("Op")
    done = client.submit(f"/dags/etl/runs/{run_id}/delete")
    assert done.status_code == 303 and done.headers["location"] == "/runs?dag_id=etl"
    assert "deleted, with 3 task instances." in client.get("/runs?dag_id=etl").text
    refused = client.submit(f"/dags/etl/runs/{busy}/delete")
    assert refused.status_code == 303
    assert "has running task instances" in client.get(refused.headers["location"]).text
    assert run_count(web.store) == 1
    assert audit_events(web.store) == [("ui_dag_runs_delete", "etl")]


def test_viewer_and_csrf_cannot_clear_or_delete_runs(web: Web) -> None:
    etl = add_dag(web.store, chain_dag("etl"))
    run_id = add_run(web.store, etl, DAY)
    finish(web.store, "etl", run_id, "failed")
    viewer = web.client("Viewer")
    for action in ("clear", "delete"):
        refused = viewer.submit(f"/dags/etl/runs/{run_id}/{action}", {"confirm": "1"})
        assert refused.status_code == 403
    no_token = web.client("Op").post(
        f"/dags/etl/runs/{run_id}/delete", data={}, follow_redirects=False
    )
    assert no_token.status_code == 403
    assert run_count(web.store) == 1
    assert set(ti_states(web.store, "etl", run_id).values()) == {"failed"}
    assert (
        web.api("Viewer")
        .post(f"/api/v1/dags/etl/dagRuns/{run_id}/clear", json={"dry_run": False})
        .status_code
        == 403
    )


def test_import_errors_page(web: Web) -> None:
    with web.store.transaction() as session:
        session.add(ImportErrorRow(
            filename="/dags/broken.py", path_hash="h", line=7, message=f"SyntaxError {XSS}",
            stacktrace=f"Traceback (most recent call last):\n  {XSS}", timestamp=DAY,
        ))  # fmt: skip
    html = web.client("Viewer").get("/import-errors").text
    assert "/dags/broken.py" in html and "line 7" in html
    assert '<pre class="traceback">Traceback (most recent call last):' in html
    assert_escaped(html)
    with web.store.transaction() as session:
        session.query(ImportErrorRow).delete()
    assert "No import errors" in web.client("Viewer").get("/import-errors").text


def test_audit_log_page_filters(web: Web) -> None:
    with web.store.transaction() as session:
        log_event(session, "ui_dags_trigger", "ann", dag_id="etl", run_id="r1", extra={"x": XSS})
        log_event(session, "cli_dags_pause", "bob", dag_id="etl")
        log_event(session, "api_pools_set", "ann")
    client = web.client("Viewer")

    def events(url: str) -> list[str]:
        page = client.get(url)
        assert page.status_code == 200, page.text
        return re.findall(r"<td><code>([^<]+)</code></td>", page.text)

    assert events("/audit-log") == ["api_pools_set", "cli_dags_pause", "ui_dags_trigger"]
    assert events("/audit-log?dag_id=etl") == ["cli_dags_pause", "ui_dags_trigger"]
    assert events("/audit-log?event=trigger") == ["ui_dags_trigger"]
    assert events("/audit-log?event=%25") == []
    assert events("/audit-log?owner=ann") == ["api_pools_set", "ui_dags_trigger"]
    assert events("/audit-log?start=2000-01-01&end=2000-01-02") == []
    assert_escaped(client.get("/audit-log").text)
    assert client.get("/audit-log?end=nope").status_code == 400


def test_user_text_is_escaped_on_run_and_runs_pages(web: Web) -> None:
    add_dag(web.store, chain_dag("etl"))
    web.api("Op").post(
        "/api/v1/dags/etl/dagRuns", json={"dag_run_id": "xss", "conf": {"html": XSS, XSS: 1}}
    )
    client = web.client("Op")
    run_html = client.get("/dags/etl/runs/xss").text
    assert_escaped(run_html)
    assert "&#34;html&#34;: &#34;&lt;script&gt;" in run_html  # the pretty conf, escaped
    assert_escaped(client.get("/runs").text)
