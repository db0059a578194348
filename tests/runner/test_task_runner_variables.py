"""A task run by the task runner reads Variables and Connections from the database."""

from __future__ import annotations

import json

from sqlalchemy import select
from tests.runner.conftest import Stored

from sluice.core.messages import RunnerExit
from sluice.core.states import TaskInstanceState
from sluice.core.xcom_codec import decode_xcom
from sluice.store import connections, variables
from sluice.store.tables import XCom

SOURCE = """
from sluice import Variable
from sluice.integrations.hooks.base import BaseHook

def read():
    conn = BaseHook.get_connection("warehouse")
    return {
        "table": Variable.get("table"),
        "cfg": Variable.get("cfg", deserialize_json=True),
        "fallback": Variable.get("absent", default_var="dflt"),
        "host": conn.host,
        "password": conn.password,
    }

with DAG("vars", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    PythonOperator(task_id="read", python_callable=read)
    BashOperator(
        task_id="templated",
        bash_command="echo {{ var.value.table }} {{ var.json.cfg.rows }} {{ conn.warehouse.host }}",
    )
    PythonOperator(task_id="missing", python_callable=lambda: Variable.get("nowhere"))
"""


def test_variables_and_connections_come_from_the_database(stored: Stored) -> None:
    with stored.store.transaction() as session:
        variables.set_variable(session, "table", "sales")
        variables.set_variable(session, "cfg", '{"rows": 5}')
        connections.create_connection(
            session, "warehouse", {"conn_type": "postgres", "host": "db.internal"}, "pw"
        )
    stored.write("vars.py", SOURCE)
    run_id = stored.trigger("vars")

    assert stored.run("vars", run_id, "read") == RunnerExit.OUTCOME_WRITTEN
    ti = stored.ti("vars", run_id, "read")
    assert ti.state == TaskInstanceState.SUCCESS
    with stored.store.transaction() as session:
        raw = session.scalar(select(XCom.value).where(XCom.task_id == "read"))
    assert decode_xcom(raw) == {
        "table": "sales",
        "cfg": {"rows": 5},
        "fallback": "dflt",
        "host": "db.internal",
        "password": "pw",
    }

    assert stored.run("vars", run_id, "templated") == RunnerExit.OUTCOME_WRITTEN
    templated = stored.ti("vars", run_id, "templated")
    assert templated.state == TaskInstanceState.SUCCESS
    assert json.loads(templated.rendered_fields or "")["bash_command"] == (
        "echo sales 5 db.internal"
    )

    assert stored.run("vars", run_id, "missing") == RunnerExit.OUTCOME_WRITTEN
    (failed,) = stored.tries("vars", "missing")
    assert failed.error is not None
    assert "variable 'nowhere' is not defined" in failed.error
    assert "nor in the metadata database" in failed.error
