"""The DAG page's tabs: Grid, Graph, Gantt, Run durations, Calendar (and its backfill),
Code and Details, on a DAG with a TaskGroup, a mapped task and runs in several states."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select
from tests.cli_db.helpers import add_dag, add_run, move_run, move_ti
from tests.web.conftest import Web

from sluice import DAG, TaskGroup
from sluice.core.messages import TaskInstanceKey
from sluice.operators import BashOperator, EmptyOperator
from sluice.store.engine import Store
from sluice.store.tables import AuditLog, Backfill, DagRun, TaskInstance
from sluice.store.task_instances import expand_placeholder
from sluice.store.task_tries import TryRecord, record_try_end, record_try_start

DAYS = 10
TASKS = ("first", "stage.left", "stage.right", "fan")
SOURCE = '"""A DAG file."""\n# <script>alert("source")</script>\nfrom sluice import DAG\n'


def _midnight() -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def shop_dag(dag_id: str = "shop", *, schedule: object = "@daily") -> DAG:
    """first >> stage (a TaskGroup of two) >> fan (mapped over three commands)."""
    with DAG(
        dag_id,
        start_date=_midnight() - timedelta(days=DAYS),
        schedule=schedule,
        description="Sells <b>things</b>",
        doc_md="# Title\n<script>alert('doc')</script>",
        tags=["shop", "<i>tag</i>"],
        default_args={"retries": 2, "owner": "ops"},
    ) as dag:
        first = EmptyOperator(task_id="first")
        with TaskGroup("stage", tooltip="the stage") as stage:
            EmptyOperator(task_id="left")
            EmptyOperator(task_id="right")
        fan = BashOperator.partial(task_id="fan").expand(
            bash_command=["echo 1", "echo 2", "echo 3"]
        )
        first >> stage >> fan
    return dag


def _expand(store: Store, dag_id: str, run_id: str, count: int) -> None:
    with store.transaction() as session:
        placeholder = session.scalars(
            select(TaskInstance.id).where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == "fan",
            )
        ).one()
        expand_placeholder(session, placeholder, count)


@dataclass
class Shop:
    """The stored DAG and its runs: day 0 success, day 1 failed, day 2 running."""

    dag_id: str
    runs: list[str]
    file: Path


@pytest.fixture
def shop(web: Web, tmp_path: Path) -> Shop:
    file = tmp_path / "shop.py"
    file.write_text(SOURCE)
    dag = add_dag(web.store, shop_dag(), fileloc=str(file))
    start = _midnight() - timedelta(days=DAYS)
    runs = [add_run(web.store, dag, start + timedelta(days=i)) for i in range(3)]
    for run_id, end in zip(runs, ("success", "failed", "running"), strict=True):
        for task_id in ("first", "stage.left", "stage.right"):
            move_ti(web.store, "shop", run_id, task_id, "success")
        _expand(web.store, "shop", run_id, 3)
        move_ti(web.store, "shop", run_id, "fan", "success", map_index=0)
        move_ti(web.store, "shop", run_id, "fan", "failed" if end == "failed" else "success",
                map_index=1)  # fmt: skip
        move_ti(web.store, "shop", run_id, "fan", "running" if end == "running" else "success",
                map_index=2)  # fmt: skip
        move_run(web.store, "shop", run_id, end)
    return Shop("shop", runs, file)


def test_dag_page_redirects_to_the_grid(web: Web, shop: Shop) -> None:
    response = web.client("Viewer").get("/dags/shop", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dags/shop/grid"


def test_grid_shows_runs_groups_and_mapped_counts(web: Web, shop: Shop) -> None:
    page = web.client("Viewer").get("/dags/shop/grid")
    assert page.status_code == 200, page.text
    html = page.text
    # One header bar per run, oldest first, each linking to its run.
    links = re.findall(r'class="runbar"', html)
    assert len(links) == 3
    positions = [html.index(f"/dags/shop/runs/{quote(run, safe='')}") for run in shop.runs]
    assert positions == sorted(positions)
    assert 'data-fold="stage"' in html
    assert 'data-groups="stage"' in html
    # The mapped task: a count of 3 per run, its states in the tooltip.
    assert "3/3 success" in html
    assert "1/3 failed" in html
    assert re.search(r'class="cell s-\w+ mapped"[^>]*>3</a>', html)
    assert "?map_index=0" in html
    # A run is still running: the table asks again by itself.
    assert 'hx-trigger="every 3s"' in html
    assert "Sells &lt;b&gt;things&lt;/b&gt;" in html
    assert "<b>things</b>" not in html


def test_grid_stops_refreshing_once_no_run_is_active(web: Web, shop: Shop) -> None:
    move_run(web.store, "shop", shop.runs[2], "success")
    table = web.client("Viewer").get("/dags/shop/grid/table?runs=2")
    assert table.status_code == 200
    assert "hx-trigger" not in table.text
    assert table.text.count('class="runbar"') == 2


def test_grid_reads_a_bounded_number_of_queries(web: Web, shop: Shop) -> None:
    from sqlalchemy import event

    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    client = web.client("Viewer")
    event.listen(web.store.engine, "before_cursor_execute", count)
    try:
        assert client.get("/dags/shop/grid?runs=25").status_code == 200
    finally:
        event.remove(web.store.engine, "before_cursor_execute", count)
    on_history = [s for s in statements if "task_instance" in s or "dag_run" in s]
    assert len(on_history) == 2, on_history


@pytest.mark.parametrize(
    ("url", "status", "detail"),
    [
        ("/dags/shop/grid?runs=-1", 422, "runs: Input should be greater than or equal to 1"),
        ("/dags/shop/grid?runs=abc", 422, "runs: Input should be a valid integer"),
        ("/dags/shop/durations?runs=0", 422, "runs: Input should be greater than or equal to 1"),
        ("/dags/shop/graph?run_id=nope", 404, "DAG &#39;shop&#39; has no run &#39;nope&#39;"),
        ("/dags/shop/gantt?run_id=nope", 404, "DAG &#39;shop&#39; has no run &#39;nope&#39;"),
        ("/dags/shop/calendar?until=yesterday", 422, "until: Input should be a valid date"),
    ],
)
def test_bad_query_parameters_get_a_specific_message(
    web: Web, url: str, status: int, detail: str
) -> None:
    add_dag(web.store, shop_dag())
    response = web.client("Viewer").get(url)
    assert response.status_code == status
    assert detail in response.text


@pytest.mark.parametrize(
    "tab", ["grid", "graph", "gantt", "durations", "calendar", "code", "details"]
)
def test_unknown_dag_is_a_404_naming_it(web: Web, tab: str) -> None:
    add_dag(web.store, shop_dag())
    response = web.client("Viewer").get(f"/dags/nosuch/{tab}")
    assert response.status_code == 404
    assert "DAG &#39;nosuch&#39; not found" in response.text


def test_graph_draws_every_task_in_its_group_coloured_by_the_run(web: Web, shop: Shop) -> None:
    page = web.client("Viewer").get(f"/dags/shop/graph?run_id={quote(shop.runs[1])}")
    assert page.status_code == 200, page.text
    svg = page.text[page.text.index("<svg") : page.text.index("</svg>")]
    assert svg.count('class="node"') == len(TASKS)
    assert svg.count('class="group"') == 1
    assert svg.count('class="edge"') == 4
    assert "stroke:#d93a3a" in svg  # fan failed in that run (1 of 3)
    assert "/dags/shop/runs/" in svg
    # Default: the latest run.
    latest = web.client("Viewer").get("/dags/shop/graph")
    assert "stroke:#4fc232" in latest.text  # running


def test_gantt_shows_each_try_of_the_run(web: Web, shop: Shop) -> None:
    first_try = datetime.now(UTC) - timedelta(minutes=5)
    with web.store.transaction() as session:
        key = TaskInstanceKey("shop", shop.runs[0], "first", -1)
        record_try_start(session, TryRecord(key, 1, first_try, "host", 1, "log"), new=True)
        record_try_end(session, key, 1, state="failed", end=first_try + timedelta(seconds=30),
                       exit_code=1, error="boom")  # fmt: skip
    page = web.client("Viewer").get(f"/dags/shop/gantt?run_id={quote(shop.runs[0])}")
    assert page.status_code == 200, page.text
    svg = page.text[page.text.index('<svg xmlns="http://www.w3.org/2000/svg" class="gantt"') :]
    # first's try from task_try (the runner's row wins), the others from their instances.
    assert svg.count('class="bar"') == 6  # first, left, right, fan [0], [1], [2]
    assert "fan [2]" in svg
    assert "try_number=1" in svg
    assert svg.index("state: failed") < svg.index("fan [0]")


def test_durations_chart_the_last_runs(web: Web, shop: Shop) -> None:
    page = web.client("Viewer").get("/dags/shop/durations?runs=2")
    assert page.status_code == 200, page.text
    assert page.text.count("<rect x=") >= 2
    assert "stage.left" in page.text
    assert 'class="series"' in page.text


def test_calendar_shows_missing_intervals(web: Web, shop: Shop) -> None:
    page = web.client("Viewer").get("/dags/shop/calendar")
    assert page.status_code == 200, page.text
    html = page.text
    assert f"<strong>{DAYS}</strong> intervals" in html
    assert f'<strong class="danger-text">{DAYS - 3}</strong> missing' in html
    assert "<strong>1</strong> failed" in html
    svg = html[html.index('id="dag-calendar"') : html.index("</svg>")]
    assert svg.count('class="cell missing"') == DAYS - 3
    assert svg.count('class="cell run"') == 3


def test_calendar_needs_a_periodic_schedule(web: Web) -> None:
    add_dag(web.store, shop_dag("manual_only", schedule=None))
    page = web.client("Viewer").get("/dags/manual_only/calendar")
    assert page.status_code == 200
    assert "The calendar needs a periodic schedule" in page.text
    preview = web.client("Viewer").get(
        "/dags/manual_only/calendar/backfill?start=2024-01-01&end=2024-01-02"
    )
    assert preview.status_code == 400
    assert "has no intervals to backfill" in preview.text


def _day(offset: int) -> str:
    return (_midnight() - timedelta(days=DAYS - offset)).date().isoformat()


def test_backfill_preview_lists_exactly_the_missing_and_failed(web: Web, shop: Shop) -> None:
    page = web.client("Viewer").get(
        f"/dags/shop/calendar/backfill?start={_day(0)}&end={_day(DAYS)}"
    )
    assert page.status_code == 200, page.text
    html = page.text
    assert html.count("<td>create</td>") == DAYS - 3
    assert html.count("<td>rerun failed tasks</td>") == 1
    assert quote(shop.runs[1]) in html
    assert "Your role cannot start backfills." in html  # a Viewer sees no Confirm
    assert "Confirm backfill" not in html


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("start=2024-01-05&end=2024-01-01", "the end date 2024-01-01 is before the start date"),
        ("start=2999-01-01&end=2999-01-02", "is in the future"),
        ("start=2000-01-01&end=2000-01-02", "the range ends before the start_date"),
        ("start=nope&end=2024-01-01", "start: Input should be a valid date"),
    ],
)
def test_backfill_preview_refuses_bad_ranges(web: Web, query: str, detail: str) -> None:
    add_dag(web.store, shop_dag())
    response = web.client("Viewer").get(f"/dags/shop/calendar/backfill?{query}")
    assert 400 <= response.status_code < 500
    assert detail in response.text


def _backfills(store: Store) -> list[Backfill]:
    with store.transaction() as session:
        rows = list(session.scalars(select(Backfill)))
        session.expunge_all()
        return rows


def test_confirm_creates_the_backfill_and_audits_it(web: Web, shop: Shop) -> None:
    client = web.client("User")
    preview = client.get(f"/dags/shop/calendar/backfill?start={_day(0)}&end={_day(DAYS)}")
    assert "Confirm backfill of 8 runs" in preview.text
    response = client.submit("/dags/shop/calendar/backfill", {"start": _day(0), "end": _day(DAYS)})
    assert response.status_code == 303
    assert response.headers["location"] == "/dags/shop/calendar"
    [backfill] = _backfills(web.store)
    assert backfill.dag_id == "shop"
    assert backfill.rerun_failed_tasks and not backfill.reset_dagruns
    assert backfill.from_date == _midnight() - timedelta(days=DAYS)
    with web.store.transaction() as session:
        event = session.scalars(select(AuditLog).where(AuditLog.event == "ui_dags_backfill")).one()
        assert event.owner == "user" and event.dag_id == "shop"
        assert '"runs": 8' in (event.extra or "")
    follow = client.get("/dags/shop/calendar")
    assert f"Backfill {backfill.id} of DAG" in follow.text
    # A second one while the first is active is refused, and changes nothing.
    again = client.submit("/dags/shop/calendar/backfill", {"start": _day(0), "end": _day(DAYS)})
    assert again.status_code == 400
    assert "already has backfill" in again.text
    assert len(_backfills(web.store)) == 1


def test_a_viewer_cannot_confirm_a_backfill(web: Web, shop: Shop) -> None:
    response = web.client("Viewer").submit(
        "/dags/shop/calendar/backfill", {"start": _day(0), "end": _day(DAYS)}
    )
    assert response.status_code == 403
    assert _backfills(web.store) == []
    with web.store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(DagRun)) == 3


def test_confirm_without_the_csrf_token_is_refused(web: Web, shop: Shop) -> None:
    client = web.client("Op")
    response = client.post(
        "/dags/shop/calendar/backfill", data={"start": _day(0), "end": _day(DAYS)}
    )
    assert response.status_code == 403
    assert _backfills(web.store) == []


def test_code_tab_highlights_and_escapes_the_source(web: Web, shop: Shop) -> None:
    page = web.client("Viewer").get("/dags/shop/code")
    assert page.status_code == 200, page.text
    assert 'class="highlight"' in page.text
    assert "<script>alert" not in page.text
    assert "&lt;/script&gt;" in page.text
    assert "linenos" in page.text
    assert str(shop.file) in page.text


def test_code_tab_when_the_file_is_gone(web: Web, shop: Shop) -> None:
    shop.file.unlink()
    page = web.client("Viewer").get("/dags/shop/code")
    assert page.status_code == 200
    assert "File not found." in page.text


def test_details_tab_lists_every_attribute_escaped(web: Web, shop: Shop) -> None:
    page = web.client("Viewer").get("/dags/shop/details")
    assert page.status_code == 200, page.text
    html = page.text
    for text in ("@daily", "retries", "BashOperator", "all_success", str(shop.file), "stage.right"):
        assert text in html, text
    assert "&lt;script&gt;alert(&#39;doc&#39;)&lt;/script&gt;" in html
    assert "<script>alert('doc')" not in html
    assert "&lt;i&gt;tag&lt;/i&gt;" in html
