"""`sluice tasks clear` follows ExternalTaskMarker tasks into the DAGs they name."""

from __future__ import annotations

from tests.cli_db.conftest import Sluice
from tests.cli_db.helpers import (
    START,
    add_dag,
    add_run,
    as_json,
    audit_events,
    move_run,
    move_ti,
    ok,
    run_state,
    ti_states,
)

from sluice import DAG
from sluice.integrations.external_task import ExternalTaskMarker
from sluice.operators import EmptyOperator
from sluice.store.engine import Store


def _finished(store: Store, dag: DAG) -> str:
    run_id = add_run(store, add_dag(store, dag), START)
    move_run(store, dag.dag_id, run_id, "running")
    for task_id in dag.task_dict:
        move_ti(store, dag.dag_id, run_id, task_id, "success")
    move_run(store, dag.dag_id, run_id, "success")
    return run_id


def _two_dags(store: Store) -> tuple[str, str]:
    with DAG("upstream", schedule="@daily", start_date=START) as up:
        EmptyOperator(task_id="load") >> ExternalTaskMarker(
            task_id="mark", external_dag_id="downstream", external_task_id="use"
        )
    with DAG("downstream", schedule="@daily", start_date=START) as down:
        EmptyOperator(task_id="use") >> EmptyOperator(task_id="publish")
        EmptyOperator(task_id="other")
    return _finished(store, up), _finished(store, down)


def test_clear_with_downstream_lists_and_clears_the_other_dags_tasks(
    store: Store, sluice: Sluice
) -> None:
    up, down = _two_dags(store)

    rows = as_json(sluice("tasks", "clear", "upstream", "-t", "^load$", "-d", "--dry-run",
                          "-o", "json"))  # fmt: skip
    result = ok(sluice("tasks", "clear", "upstream", "-t", "^load$", "-d", "--yes"))

    assert sorted((row["dag_id"], row["task_id"]) for row in rows) == [
        ("downstream", "publish"), ("downstream", "use"),
        ("upstream", "load"), ("upstream", "mark"),
    ]  # fmt: skip
    assert result.stdout.endswith("Cleared 4 task instances; 2 finished runs are queued again.\n")
    assert ti_states(store, "downstream", down) == {
        "use": None,
        "publish": None,
        "other": "success",
    }
    assert run_state(store, "downstream", down) == "queued"
    assert set(ti_states(store, "upstream", up).values()) == {None}
    assert sorted(audit_events(store)) == [
        ("cli_tasks_clear", "downstream"), ("cli_tasks_clear", "upstream"),
    ]  # fmt: skip
