"""TaskGroups in a sluice DAG: groups of tasks wired with ``>>``, one group nested in another.

Task ids carry their group's id as a prefix (``extract.orders``,
``transform.quality.row_counts``). ``group_a >> group_b`` makes every last task of
``group_a`` an upstream of every first task of ``group_b``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sluice import DAG, TaskGroup
from sluice.operators import EmptyOperator, PythonOperator


def work(name: str) -> str:
    print(f"working on {name}")
    return name


def step(task_id: str) -> PythonOperator:
    """A task that prints its id; the id given here is the label, without the group."""
    return PythonOperator(task_id=task_id, python_callable=work, op_kwargs={"name": task_id})


with DAG(
    dag_id="example_task_group",
    description="Groups, a nested group, and >> between groups.",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    tags=["example", "task_group"],
) as dag:
    start = EmptyOperator(task_id="start")

    with TaskGroup("extract", tooltip="Pull the sources in parallel") as extract:
        step("orders")
        step("customers")

    with TaskGroup("transform", tooltip="Clean, then check") as transform:
        clean = step("clean")
        with TaskGroup("quality", tooltip="Checks that run in parallel") as quality:
            step("row_counts")
            step("no_nulls")
        publish = step("publish")
        clean >> quality >> publish

    end = EmptyOperator(task_id="end")

    start >> extract >> transform >> end
