"""Pages: the DAG list (filters, pages, pause toggle with the catchup guard, delete) and
the trigger form (typed param fields, errors next to them, the JSON conf box)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from tests.cli_db.helpers import add_dag, add_run, audit_events, chain_dag, finish, move_ti
from tests.web.conftest import Web
from tests.web.test_api_dag_runs import run_count
from tests.web.test_api_dags import describe, is_paused

from sluice import Param
from sluice.store.tables import DagRun, ImportErrorRow

DAY = datetime(2024, 1, 1, tzinfo=UTC)
XSS = "<script>alert(1)</script><b>bold</b>"


def assert_escaped(html: str) -> None:
    assert "<script>alert(1)" not in html
    assert "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_home_lists_dags_with_runs_and_counts(web: Web) -> None:
    etl = add_dag(web.store, chain_dag("etl"))
    describe(web.store, "etl", description="Loads the warehouse", tags=["nightly"],
             owners="ann", timetable_description="At 00:00", schedule="@daily")  # fmt: skip
    finish(web.store, "etl", add_run(web.store, etl, DAY), "failed")
    latest = add_run(web.store, etl, DAY + timedelta(days=1))
    move_ti(web.store, "etl", latest, "extract", "success")
    add_dag(web.store, chain_dag("quiet"), paused=True)
    page = web.client("Viewer").get("/")
    assert page.status_code == 200
    html = page.text
    assert 'href="/dags/etl/grid"' in html and "Loads the warehouse" in html
    assert "At 00:00" in html and "<code>@daily</code>" in html
    assert 'href="/?tag=nightly"' in html and 'href="/?owner=ann"' in html
    assert f'href="/dags/etl/runs/{latest.replace(":", "%3A").replace("+", "%2B")}"' in html
    assert 'title="1 failed"' in html and 'title="1 queued"' in html  # recent runs
    assert 'title="1 success"' in html and 'title="2 with no status"' in html  # latest tasks
    assert "never" in html  # quiet has no run
    # A Viewer sees no toggle, no Trigger and no Delete.
    assert "/pause" not in html and "/trigger" not in html and "Delete" not in html
    assert "import" not in html.lower().split("<main>")[1].split("<table")[0]

    op_html = web.client("Op").get("/").text
    assert 'hx-post="/dags/quiet/unpause"' in op_html
    assert 'hx-post="/dags/etl/pause"' in op_html
    assert 'href="/dags/etl/trigger"' in op_html and 'action="/dags/etl/delete"' in op_html


def test_home_filters_and_pages(web: Web) -> None:
    for number in range(30):
        add_dag(web.store, chain_dag(f"dag_{number:02d}"), paused=number % 2 == 1)
        describe(web.store, f"dag_{number:02d}", tags=["even" if number % 2 == 0 else "odd"],
                 owners="ann" if number < 10 else "bob")  # fmt: skip
    serialized = add_dag(web.store, chain_dag("failing"))
    finish(web.store, "failing", add_run(web.store, serialized, DAY), "failed")
    client = web.client("Viewer")

    def ids(url: str) -> list[str]:
        page = client.get(url)
        assert page.status_code == 200, page.text
        return re.findall(r'class="dag-id">([^<]+)<', page.text)

    first = client.get("/").text
    assert "Page 1 of 2 · 31 DAGs" in first
    assert len(ids("/")) == 25
    assert ids("/?page=2") == ["dag_25", "dag_26", "dag_27", "dag_28", "dag_29", "failing"]
    assert ids("/?q=DAG_1") == [f"dag_1{n}" for n in range(10)]
    assert ids("/?tag=odd&owner=ann") == ["dag_01", "dag_03", "dag_05", "dag_07", "dag_09"]
    assert ids("/?status=paused&q=dag_0") == ["dag_01", "dag_03", "dag_05", "dag_07", "dag_09"]
    assert ids("/?status=active&q=dag_0") == ["dag_00", "dag_02", "dag_04", "dag_06", "dag_08"]
    assert ids("/?last_run=failed") == ["failing"]
    assert "No DAG matches these filters." in client.get("/?q=zzz").text
    assert client.get("/?page=0").status_code == 422


def test_import_error_banner(web: Web) -> None:
    with web.store.transaction() as session:
        session.add(ImportErrorRow(filename="/dags/bad.py", path_hash="x", line=1, message="boom",
                                   stacktrace="tb", timestamp=DAY))  # fmt: skip
    html = web.client("Viewer").get("/").text
    assert "1 DAG file failed to import." in html
    assert 'href="/import-errors"' in html


def test_pause_and_unpause_by_form_and_htmx(web: Web) -> None:
    add_dag(web.store, chain_dag("etl"), paused=True)
    client = web.client("User")
    done = client.submit("/dags/etl/unpause", {"next": "/?q=etl"})
    assert done.status_code == 303 and done.headers["location"] == "/?q=etl"
    assert not is_paused(web.store, "etl")
    assert "DAG &#39;etl&#39; unpaused." in client.get("/?q=etl").text
    fragment = client.submit("/dags/etl/pause", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div class="dag-toggle"')
    assert 'hx-post="/dags/etl/unpause"' in fragment.text
    assert is_paused(web.store, "etl")
    off_site = client.submit("/dags/etl/unpause", {"next": "//evil.example"})
    assert off_site.headers["location"] == "/"
    assert [e for e, _ in audit_events(web.store)] == [
        "ui_dags_unpause", "ui_dags_pause", "ui_dags_unpause"
    ]  # fmt: skip


def test_unpause_catchup_guard_asks_first(web: Web) -> None:
    add_dag(web.store, chain_dag("old", catchup=True, start=datetime(2020, 1, 1, tzinfo=UTC)),
            paused=True)  # fmt: skip
    client = web.client("Op")
    asked = client.submit("/dags/old/unpause", headers={"HX-Request": "true"})
    assert asked.status_code == 200
    assert "Unpausing <strong>old</strong> starts catchup: more than" in asked.text
    assert "logical dates 2020-01-01T00:00:00+00:00 to" in asked.text
    assert 'name="confirm" value="1"' in asked.text
    assert is_paused(web.store, "old")
    page = client.submit("/dags/old/unpause")  # without htmx: a page that asks
    assert page.status_code == 200 and "starts catchup" in page.text
    assert is_paused(web.store, "old")
    confirmed = client.submit("/dags/old/unpause", {"confirm": "1"})
    assert confirmed.status_code == 303
    assert not is_paused(web.store, "old")
    assert "Catchup starts: more than" in client.get("/").text


def test_viewer_and_csrf_cannot_change_dags(web: Web) -> None:
    serialized = add_dag(web.store, chain_dag("etl"), paused=True)
    add_run(web.store, serialized, DAY)
    viewer = web.client("Viewer")
    for url in ("/dags/etl/unpause", "/dags/etl/delete", "/dags/etl/trigger"):
        refused = viewer.submit(url)
        assert refused.status_code == 403, url
        assert "a role is needed to trigger, clear, mark, pause or delete" in refused.text
    assert viewer.get("/dags/etl/trigger").status_code == 403
    op = web.client("Op")
    no_token = op.post("/dags/etl/unpause", data={}, follow_redirects=False)
    assert no_token.status_code == 403
    assert "CSRF token is missing or wrong" in no_token.text
    assert op.post("/dags/etl/delete", data={"csrf_token": "forged"}).status_code == 403
    assert is_paused(web.store, "etl")
    assert run_count(web.store) == 1
    assert audit_events(web.store) == []


def test_delete_from_the_list(web: Web) -> None:
    serialized = add_dag(web.store, chain_dag("etl"))
    add_run(web.store, serialized, DAY)
    client = web.client("User")
    done = client.submit("/dags/etl/delete", {"next": "/dags/etl/grid"})
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert "DAG &#39;etl&#39; deleted, with 1 runs and 3 task instances." in client.get("/").text
    assert run_count(web.store) == 0
    assert client.submit("/dags/etl/delete").status_code == 404


def params_dag() -> object:
    return chain_dag(
        "etl",
        params={
            "name": Param("world", type="string", minLength=1, description="Who to greet."),
            "repeat": Param(1, type="integer", minimum=1, maximum=5),
            "language": Param("en", type="string", enum=["de", "en", "fr"]),
            "shout": Param(False, type="boolean"),
            "ratio": Param(0.5, type="number"),
            "items": Param([1, 2], type="array"),
            "opts": Param({"a": 1}, type="object"),
        },
    )


def test_trigger_form_shows_typed_fields_with_defaults(web: Web) -> None:
    add_dag(web.store, params_dag())  # type: ignore[arg-type]
    html = web.client("User").get("/dags/etl/trigger").text
    assert 'name="param.name" type="text" value="world"' in html
    assert "Who to greet." in html
    assert 'name="param.repeat" type="text" inputmode="numeric" value="1"' in html
    assert '<option value="&#34;en&#34;" selected>en</option>' in html
    assert 'name="param.shout" value="true" >' in html  # unchecked
    assert "[\n  1,\n  2\n]</textarea>" in html
    assert 'name="logical_date" type="datetime-local"' in html


def test_trigger_runs_with_the_fields_and_the_conf_box(web: Web) -> None:
    add_dag(web.store, params_dag(), paused=True)  # type: ignore[arg-type]
    client = web.client("User")
    done = client.submit(
        "/dags/etl/trigger",
        {"param.name": "Ada", "param.repeat": "3", "param.language": '"fr"',
         "param.shout": "true", "param.ratio": "2.5", "param.items": "[3]",
         "param.opts": "{}", "conf": '{"extra": true, "repeat": 4}',
         "logical_date": "2024-03-01T06:30", "run_id": "by_form"},
    )  # fmt: skip
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/dags/etl/grid"
    with web.store.transaction() as session:
        run = session.scalars(select(DagRun)).one()
        assert run.run_id == "by_form"
        assert run.logical_date == datetime(2024, 3, 1, 6, 30, tzinfo=UTC)
        import json

        assert json.loads(run.conf) == {
            "name": "Ada", "repeat": 4, "language": "fr", "shout": True, "ratio": 2.5,
            "items": [3], "opts": {}, "extra": True,
        }  # fmt: skip
    flashed = client.get("/profile").text
    assert "run &#39;by_form&#39; is queued" in flashed
    assert "DAG &#39;etl&#39; is paused: the run waits until you unpause it." in flashed


def test_trigger_errors_show_next_to_fields_and_keep_the_input(web: Web) -> None:
    add_dag(web.store, params_dag())  # type: ignore[arg-type]
    client = web.client("User")
    page = client.submit(
        "/dags/etl/trigger",
        {"param.name": "", "param.repeat": "9", "param.language": '"en"', "param.ratio": "x",
         "param.items": "[1,", "param.opts": "[]", "conf": "[1]", "logical_date": "soon",
         "run_id": "a b"},
    )  # fmt: skip
    assert page.status_code == 400
    html = page.text
    assert "Nothing was triggered: fix the fields marked below." in html
    assert "is shorter than the minimum length of 1" in html or "minLength" in html
    assert "9 is greater than the maximum of 5" in html
    assert 'value="9"' in html  # what the user typed stays
    assert "&#39;x&#39; is not a number" in html
    assert "not valid JSON" in html
    assert "enter a JSON object" in html
    assert "the conf must be a JSON object ({...}), not list" in html
    assert "&#39;soon&#39; is not a date and time" in html
    assert "may hold only letters, digits" in html
    assert run_count(web.store) == 0

    bad_json = client.submit("/dags/etl/trigger", {"conf": "{oops"})
    assert bad_json.status_code == 400
    assert "not valid JSON: Expecting property name" in bad_json.text
    from_box = client.submit("/dags/etl/trigger", {"param.repeat": "1", "conf": '{"repeat": 0}'})
    assert "(from the JSON conf)" in from_box.text
    assert run_count(web.store) == 0


def test_trigger_clash_is_refused_with_the_form(web: Web) -> None:
    add_dag(web.store, chain_dag("etl"))
    client = web.client("User")
    assert client.submit("/dags/etl/trigger", {"run_id": "r1"}).status_code == 303
    clash = client.submit("/dags/etl/trigger", {"run_id": "r1"})
    assert clash.status_code == 409
    assert "already has a run with run id &#39;r1&#39;" in clash.text
    assert run_count(web.store) == 1


def test_user_text_is_escaped_on_home_and_trigger(web: Web) -> None:
    dag = chain_dag(
        "xss",
        description=XSS,
        doc_md=XSS,
        params={"p": Param(XSS, type="string", description=XSS, title=XSS)},
        tags=[XSS],
    )
    add_dag(web.store, dag)
    describe(web.store, "xss", description=XSS, tags=[XSS], owners=XSS,
             timetable_description=XSS, schedule=XSS)  # fmt: skip
    home = web.client("Op").get("/").text
    assert_escaped(home)
    trigger = web.client("Op").get("/dags/xss/trigger").text
    assert_escaped(trigger)
    assert trigger.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4
