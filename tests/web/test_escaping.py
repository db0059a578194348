"""Everything a user can type is escaped on every page that shows it.

DAG and task ids cannot carry markup (the SDK refuses any id outside ``[\\w.-]+``, as
Airflow's KEY_REGEX), so the markup goes where a DAG author or a user can put text: the
description, doc_md, tags, owners, params, a run's conf and id-free fields of admin rows.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from tests.cli_db.helpers import START, add_dag, add_run, chain_dag, move_ti
from tests.web.conftest import Web
from tests.web.test_api_dags import describe

from sluice import DAG, Param
from sluice.core.errors import SluiceError
from sluice.operators import EmptyOperator
from sluice.store.audit import log_event
from sluice.store.tables import DagRun, ImportErrorRow
from sluice.store.transitions import now

PAYLOAD = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_ids_cannot_carry_markup() -> None:
    with pytest.raises(SluiceError, match="may only contain letters, digits"):
        EmptyOperator(task_id=PAYLOAD)
    with pytest.raises(SluiceError, match="may only contain letters, digits"):
        DAG(PAYLOAD)


def _seed(web: Web, source: Path) -> str:
    source.write_text(f"# {PAYLOAD}\nfrom sluice import DAG\n")
    dag = chain_dag(
        "xss",
        description=PAYLOAD,
        doc_md=PAYLOAD,
        tags=[PAYLOAD],
        params={"p": Param(PAYLOAD, type="string", description=PAYLOAD, title=PAYLOAD)},
    )
    serialized = add_dag(web.store, dag, fileloc=str(source))
    describe(web.store, "xss", description=PAYLOAD, tags=[PAYLOAD], owners=PAYLOAD)
    run_id = add_run(web.store, serialized, START)
    add_run(web.store, serialized, START + timedelta(days=1))
    move_ti(web.store, "xss", run_id, "extract", "failed")
    with web.store.transaction() as session:
        run = session.query(DagRun).filter_by(dag_id="xss", run_id=run_id).one()
        run.conf = json.dumps({"note": PAYLOAD})
        session.add(
            ImportErrorRow(
                filename=f"/dags/{PAYLOAD}.py", path_hash="x" * 64, line=1, message=PAYLOAD,
                stacktrace=PAYLOAD, timestamp=now(),
            )
        )  # fmt: skip
        log_event(session, "ui_test", PAYLOAD, dag_id="xss", extra={"why": PAYLOAD})
    return run_id


def test_every_page_escapes_user_text(web: Web, tmp_path: Path) -> None:
    run_id = _seed(web, tmp_path / "xss_dag.py")
    admin = web.client("Admin")
    for created in (
        admin.submit("/variables/new", {"key": "v1", "value": PAYLOAD, "description": PAYLOAD}),
        admin.submit(
            "/connections/new",
            {"conn_id": "c1", "conn_type": "http", "description": PAYLOAD, "host": "h"},
        ),
        admin.submit("/pools/new", {"name": "p1", "slots": "2", "description": PAYLOAD}),
    ):
        assert created.status_code == 303, created.text
    run = quote(run_id, safe="")
    pages = [
        "/",
        "/dags/xss/grid",
        "/dags/xss/graph",
        "/dags/xss/gantt",
        "/dags/xss/durations",
        "/dags/xss/calendar",
        "/dags/xss/code",
        "/dags/xss/details",
        "/dags/xss/trigger",
        f"/dags/xss/runs/{run}",
        f"/dags/xss/runs/{run}/tasks/extract",
        "/runs",
        "/task-instances",
        "/import-errors",
        "/audit-log",
        "/variables",
        "/connections",
        "/pools",
    ]
    shown = {}
    for path in pages:
        response = admin.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        assert PAYLOAD not in response.text, path
        shown[path] = ESCAPED in response.text
    # Pages that show the typed text at all show it escaped (not dropped).
    showing = ["/", "/dags/xss/details", "/dags/xss/code", "/dags/xss/trigger",
               f"/dags/xss/runs/{run}", "/import-errors", "/audit-log", "/variables"]  # fmt: skip
    for path in showing:
        assert shown[path], path
