"""TriggerDagRunOperator run by the task runner: the run it makes, what it pushes, an
existing run, and waiting for the triggered run to end."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from tests.integrations.dagruns.helpers import mark, move_run, run_states, tries_errors
from tests.runner.conftest import LOGICAL_DATE, Stored

from sluice import DAG
from sluice.core.errors import DagDefinitionError
from sluice.core.states import TaskInstanceState
from sluice.core.xcom_codec import decode_xcom
from sluice.integrations.errors import NoMetadataDatabase
from sluice.integrations.trigger_dagrun import TriggerDagRunOperator
from sluice.store.tables import AuditLog, DagRun, XCom

S = TaskInstanceState

TARGET = """
from sluice import Param

with DAG("target", schedule="@daily", start_date=datetime(2024, 1, 1),
         params={"n": Param(1, type="integer")}) as dag:
    EmptyOperator(task_id="work") >> EmptyOperator(task_id="report")
"""

CONTROLLER = """
from sluice.integrations.trigger_dagrun import TriggerDagRunOperator

def trigger(task_id, **kwargs):
    kwargs.setdefault("trigger_dag_id", "target")
    return TriggerDagRunOperator(task_id=task_id, execution_timeout=120, **kwargs)

with DAG("controller", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    trigger(
        "trigger", conf={"n": 5, "day": "{{ ds }}"}, trigger_run_id="from_{{ ds_nodash }}",
        logical_date="{{ (logical_date + macros.timedelta(hours=6)).isoformat() }}",
    )
    trigger("first", trigger_run_id="fixed", logical_date="2024-02-01T00:00:00+00:00")
    trigger("again", trigger_run_id="fixed")
    trigger("same_date", logical_date="2024-02-01T00:00:00+00:00")
    trigger("skip", trigger_run_id="fixed", skip_when_already_exists=True)
    trigger("reset", trigger_run_id="fixed", reset_dag_run=True)
    trigger("unknown", trigger_dag_id="targte")
    trigger("not_json", conf={"at": datetime(2024, 1, 1)})
    trigger("bad_param", conf={"n": "many"})
    trigger("wait_ok", trigger_run_id="waited_ok", wait_for_completion=True, poke_interval=0.02)
    trigger(
        "wait_bad", trigger_run_id="waited_bad", wait_for_completion=True, poke_interval=0.02,
        failed_states=["failed"],
    )
"""


@pytest.fixture
def controller(stored: Stored) -> str:
    """The target and controller DAGs stored; a manual run of the controller."""
    stored.write("target.py", TARGET)
    stored.write("controller.py", CONTROLLER)
    return stored.trigger("controller")


def _xcoms(stored: Stored, task_id: str) -> dict[str, Any]:
    with stored.store.transaction() as session:
        rows = session.execute(select(XCom.key, XCom.value).where(XCom.task_id == task_id))
        return {key: decode_xcom(value) for key, value in rows}


def _run(stored: Stored, run_id: str) -> DagRun:
    with stored.store.transaction() as session:
        found = session.scalar(
            select(DagRun).where(DagRun.dag_id == "target", DagRun.run_id == run_id)
        )
        assert found is not None, run_id
        return found  # type: ignore[no-any-return]


def _error(stored: Stored, task_id: str) -> str:
    (error,) = tries_errors(stored, "controller", task_id)
    return error or ""


def test_triggers_a_queued_manual_run_with_the_rendered_conf(
    stored: Stored, controller: str
) -> None:
    stored.run("controller", controller, "trigger")

    assert stored.ti("controller", controller, "trigger").state == S.SUCCESS
    run = _run(stored, "from_20240315")
    assert (run.run_type, run.state) == ("manual", "queued")
    assert run.logical_date == datetime(2024, 3, 15, 6, tzinfo=UTC)
    assert json.loads(run.conf) == {"n": 5, "day": "2024-03-15"}
    assert stored.ti("target", "from_20240315", "work").state is None
    assert _xcoms(stored, "trigger") == {
        "trigger_run_id": "from_20240315",
        "trigger_dag_id": "target",
        "trigger_logical_date_iso": "2024-03-15T06:00:00+00:00",
    }
    with stored.store.transaction() as session:
        audit = session.execute(
            select(AuditLog.event, AuditLog.owner, AuditLog.dag_id, AuditLog.run_id)
        ).all()
    assert [tuple(row) for row in audit] == [
        ("task_dags_trigger", "controller.trigger", "target", "from_20240315")
    ]


def test_an_existing_run_fails_skips_or_is_reset(stored: Stored, controller: str) -> None:
    stored.run("controller", controller, "first")
    move_run(stored.store, "target", "fixed", "running")
    mark(stored, "target", "fixed", "work", "success")
    mark(stored, "target", "fixed", "report", "failed")
    move_run(stored.store, "target", "fixed", "failed")

    for task_id in ("again", "same_date", "skip", "reset"):
        stored.run("controller", controller, task_id)

    assert stored.ti("controller", controller, "again").state == S.FAILED
    assert _error(stored, "again") == (
        "TriggerDagRunError: task 'again' of DAG 'controller': DAG 'target' already has a run"
        " with this run id: 'fixed' at 2024-02-01T00:00:00+00:00 (failed); set"
        " reset_dag_run=True to run it again, or skip_when_already_exists=True to skip"
    )
    assert stored.ti("controller", controller, "same_date").state == S.FAILED
    assert "already has a run with this logical date: 'fixed'" in _error(stored, "same_date")
    assert stored.ti("controller", controller, "skip").state == S.SKIPPED
    # reset_dag_run cleared the run: it runs again, with the same run id.
    assert stored.ti("controller", controller, "reset").state == S.SUCCESS
    assert _xcoms(stored, "reset")["trigger_run_id"] == "fixed"
    assert stored.ti("target", "fixed", "report").state is None
    assert stored.ti("target", "fixed", "work").state is None
    assert run_states(stored, "target") == {"fixed": "queued"}


@pytest.mark.parametrize(
    ("task_id", "message"),
    [
        (
            "unknown",
            "cannot trigger: DAG 'targte' not found in the database. Did you mean: 'target'",
        ),
        ("not_json", "conf must be JSON-serializable: Object of type datetime"),
        ("bad_param", "conf does not fit the params of DAG 'target': param 'n'"),
    ],
)
def test_bad_targets_and_confs_fail_clearly(
    stored: Stored, controller: str, task_id: str, message: str
) -> None:
    stored.run("controller", controller, task_id)

    assert stored.ti("controller", controller, task_id).state == S.FAILED
    assert _error(stored, task_id).startswith(
        f"TriggerDagRunError: task '{task_id}' of DAG 'controller': "
    )
    assert message in _error(stored, task_id)
    assert run_states(stored, "target") == {}


@pytest.fixture
def finisher(stored: Stored) -> Iterator[dict[str, str]]:
    """A thread that ends the target run named in the dict (run id -> final state) as
    soon as it exists, as the scheduler would once its tasks are done."""
    wanted: dict[str, str] = {}
    stop = threading.Event()

    def finish() -> None:
        while not stop.is_set():
            for run_id, state in list(wanted.items()):
                if run_id in run_states(stored, "target"):
                    move_run(stored.store, "target", run_id, state)
                    del wanted[run_id]
            time.sleep(0.01)

    thread = threading.Thread(target=finish, daemon=True)
    thread.start()
    yield wanted
    stop.set()
    thread.join()


def test_wait_for_completion_succeeds_when_the_run_does(
    stored: Stored, controller: str, finisher: dict[str, str]
) -> None:
    finisher["waited_ok"] = "success"

    stored.run("controller", controller, "wait_ok")

    assert stored.ti("controller", controller, "wait_ok").state == S.SUCCESS
    assert run_states(stored, "target") == {"waited_ok": "success"}


def test_wait_for_completion_fails_naming_the_run(
    stored: Stored, controller: str, finisher: dict[str, str]
) -> None:
    finisher["waited_bad"] = "failed"

    stored.run("controller", controller, "wait_bad")

    assert stored.ti("controller", controller, "wait_bad").state == S.FAILED
    assert _error(stored, "wait_bad") == (
        "TriggerDagRunError: task 'wait_bad' of DAG 'controller': run 'waited_bad' of DAG"
        " 'target' ended failed, one of failed_states ['failed']"
    )


def test_without_a_database_the_error_says_so() -> None:
    with DAG("probe", schedule=None, start_date=datetime(2024, 1, 1)):
        op = TriggerDagRunOperator(task_id="t", trigger_dag_id="target")
    with pytest.raises(NoMetadataDatabase, match=r"task 't' of DAG 'probe'"):
        op.execute({"logical_date": LOGICAL_DATE})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trigger_dag_id": ""}, "trigger_dag_id must be a non-empty string"),
        ({"conf": ["n", 1]}, r"conf must be a dict \(the triggered run's conf\)"),
        ({"conf": "{}"}, r"conf must be a dict"),
        ({"logical_date": 20240101}, "logical_date must be a datetime or ISO 8601 text"),
        ({"logical_date": "yesterday"}, "logical_date 'yesterday' is not an ISO 8601"),
        ({"allowed_states": ["skipped"]}, "'skipped', not a DAG run state"),
        ({"failed_states": "failed"}, "failed_states must be a list of states"),
        ({"allowed_states": ["success"], "failed_states": ["success"]}, "both in allowed_states"),
        ({"poke_interval": -1}, "poke_interval must be a non-negative number"),
        ({"wait_for_completion": "yes"}, "wait_for_completion must be True or False"),
    ],
)
def test_bad_arguments_are_dag_definition_errors(kwargs: dict[str, Any], message: str) -> None:
    kwargs.setdefault("trigger_dag_id", "target")
    with (
        pytest.raises(DagDefinitionError, match=message),
        DAG("probe", schedule=None, start_date=datetime(2024, 1, 1)),
    ):
        TriggerDagRunOperator(task_id="t", **kwargs)


def test_airflow_defaults() -> None:
    with DAG("probe", schedule=None, start_date=datetime(2024, 1, 1)):
        op = TriggerDagRunOperator(task_id="t", trigger_dag_id="target", failed_states=[])
    assert (op.allowed_states, op.failed_states, op.poke_interval) == (["success"], [], 60.0)
    assert op.template_fields == ("trigger_dag_id", "trigger_run_id", "logical_date", "conf")
