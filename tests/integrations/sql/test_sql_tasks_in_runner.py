"""SQL operators run by the real task runner read their connection from the metadata
database, render ``.sql`` files and push their rows to XCom."""

from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy import select
from tests.integrations.conftest import SqlConn
from tests.runner.conftest import Stored

from sluice.core.messages import RunnerExit
from sluice.core.states import TaskInstanceState
from sluice.core.xcom_codec import decode_xcom
from sluice.integrations.connection import Connection
from sluice.store import connections
from sluice.store.tables import XCom

SOURCE = """
from sluice.integrations.sql.operators import SQLExecuteQueryOperator
from sluice.integrations.sql.sensors import SqlSensor
from sluice.integrations.sql.transfer import GenericTransfer

with DAG("sql", schedule=None, start_date=datetime(2024, 1, 1), params={"limit": 2}) as dag:
    SqlSensor(
        task_id="wait",
        conn_id="dwh",
        sql="SELECT COUNT(*) FROM people",
        poke_interval=0,
        timeout=30,
    )
    SQLExecuteQueryOperator(task_id="report", conn_id="dwh", sql="report.sql")
    GenericTransfer(
        task_id="copy",
        source_conn_id="dwh",
        destination_conn_id="dwh",
        sql="SELECT id, name FROM people WHERE id <= {{ params.limit }} ORDER BY id",
        destination_table="people_copy",
        preoperator="DELETE FROM people_copy",
        page_size=1,
    )
    SQLExecuteQueryOperator(
        task_id="failing",
        conn_id="dwh",
        sql=["DELETE FROM people", "INSERT INTO nowhere VALUES ('{{ ds }}')"],
    )
"""

REPORT = """\
-- counted for {{ ds }}
SELECT COUNT(*), '{{ ds }}' FROM people WHERE id <= {{ params.limit }}
"""


def test_sql_tasks_run_from_a_stored_connection(stored: Stored, sql_conn: SqlConn) -> None:
    hook = sql_conn.hook()
    hook.run("CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(20))")
    hook.run("CREATE TABLE people_copy (id INTEGER PRIMARY KEY, name VARCHAR(20))")
    hook.insert_rows("people", [(1, "Ada"), (2, "Bob"), (3, "Cy")])
    hook.insert_rows("people_copy", [(9, "stale")])
    # Only the metadata database defines "dwh" (the environment defines "warehouse").
    conn = Connection.from_uri("dwh", sql_conn.uri)
    fields = {
        "conn_type": conn.conn_type,
        "host": conn.host,
        "schema": conn.schema,
        "login": conn.login,
        "port": conn.port,
    }
    with stored.store.transaction() as session:
        connections.create_connection(session, "dwh", fields, conn.password)
    (stored.folder / "report.sql").write_text(REPORT)
    stored.write("sql_dag.py", SOURCE)
    run_id = stored.trigger("sql")

    for task_id in ("wait", "report", "copy", "failing"):
        assert stored.run("sql", run_id, task_id) == RunnerExit.OUTCOME_WRITTEN

    assert stored.ti("sql", run_id, "wait").state == TaskInstanceState.SUCCESS
    report = stored.ti("sql", run_id, "report")
    assert report.state == TaskInstanceState.SUCCESS
    assert json.loads(report.rendered_fields or "")["sql"] == (
        "-- counted for 2024-03-15\nSELECT COUNT(*), '2024-03-15' FROM people WHERE id <= 2\n"
    )
    with stored.store.transaction() as session:
        raw = session.scalar(
            select(XCom.value).where(XCom.dag_id == "sql", XCom.task_id == "report")
        )
    assert decode_xcom(raw) == [[2, "2024-03-15"]]

    assert stored.ti("sql", run_id, "copy").state == TaskInstanceState.SUCCESS
    assert hook.get_records("SELECT id, name FROM people_copy ORDER BY id") == [
        (1, "Ada"),
        (2, "Bob"),
    ]

    assert stored.ti("sql", run_id, "failing").state == TaskInstanceState.FAILED
    (failed,) = stored.tries("sql", "failing")
    assert failed.error is not None
    assert failed.error.startswith(
        "SqlOperatorError: task 'failing' of DAG 'sql': statement 2 of 2 failed: "
    )
    assert "statement: INSERT INTO nowhere VALUES ('2024-03-15')" in failed.error
    assert hook.get_first("SELECT COUNT(*) FROM people") == (3,)


def test_importing_the_sql_operators_imports_no_sqlalchemy() -> None:
    code = (
        "import sys\n"
        "import sluice.integrations.sql.operators, sluice.integrations.sql.transfer\n"
        "import sluice.integrations.sql.sensors\n"
        "heavy = {'sqlalchemy', 'psycopg', 'pymysql'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
