"""`sluice dags test` and `tasks test` show what tasks print and log with the secrets they
read masked."""

from __future__ import annotations

from tests.cli.conftest import Invoke, WriteDag

PASSWORD = "s3cr3t-Pa55word"

LEAKY = """
from datetime import datetime
from sluice import DAG, task
from sluice.integrations.hooks.base import BaseHook

with DAG("leaky", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def leak():
        password = BaseHook.get_connection("warehouse").password
        print("printed", password)
        return {"api_token": password, "echo": f"pw={password}"}
    leak()
"""


def test_dags_test_and_tasks_test_mask_what_tasks_read(invoke: Invoke, write_dag: WriteDag) -> None:
    write_dag("leaky.py", LEAKY)
    env = {"SLUICE_CONN_WAREHOUSE": f"postgresql://etl:{PASSWORD}@db/dwh"}
    run = invoke("dags", "test", "leaky", "2024-03-15", env=env)
    assert run.exit_code == 0, run.output
    assert "printed ***" in run.output
    assert PASSWORD not in run.output
    single = invoke("tasks", "test", "leaky", "leak", "2024-03-15", env=env)
    assert single.exit_code == 0, single.output
    assert '"api_token": "***"' in single.output and '"echo": "pw=***"' in single.output
    assert PASSWORD not in single.output
