"""One try of a task: how sys.exit ends it, and what its failure puts in the log."""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest

from sluice import DAG, task
from sluice.core.states import DagRunState, TaskInstanceState
from sluice.operators import BashOperator, PythonOperator

S = TaskInstanceState


def _failure_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("task failed")]


# -- sys.exit ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", [0, None])
def test_sys_exit_with_success_code_succeeds(run_dag, states, code: Any) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        leave = PythonOperator(task_id="leave", python_callable=lambda: sys.exit(code))
        after = PythonOperator(task_id="after", python_callable=lambda: "ran")
        leave >> after
    result = run_dag(dag)
    assert result.state is DagRunState.SUCCESS
    assert states(result) == {"leave": S.SUCCESS, "after": S.SUCCESS}


def test_sys_exit_with_error_code_fails_and_retries(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:

        @task(retries=1, retry_delay=0)
        def leave() -> None:
            sys.exit(3)

        leave()
    result = run_dag(dag)
    (record,) = result.instances
    assert (record.state, record.try_number) == (S.FAILED, 2)
    assert record.error == "task called sys.exit(3)"
    assert result.state is DagRunState.FAILED


def test_sys_exit_in_a_callback_is_contained(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        PythonOperator(
            task_id="t",
            python_callable=lambda: 1,
            on_success_callback=lambda context: sys.exit(1),
        )
    assert states(run_dag(dag)) == {"t": S.SUCCESS}


# -- what a failure logs -------------------------------------------------------------------


def test_sluice_error_logs_its_message_only(run_dag, caplog) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        BashOperator(task_id="b", bash_command="echo {{ not_in_context }}")
    with caplog.at_level(logging.ERROR, logger="sluice.task"):
        run_dag(dag)
    (message,) = _failure_logs(caplog)
    assert message.startswith("task failed: TemplateError: task 'b' field 'bash_command'")
    assert "Traceback" not in message and "\n" not in message


def test_xcom_error_logs_its_message_only(run_dag, caplog) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        PythonOperator(task_id="p", python_callable=lambda: {1, 2})
    with caplog.at_level(logging.ERROR, logger="sluice.task"):
        run_dag(dag)
    (message,) = _failure_logs(caplog)
    assert message.startswith("task failed: XComError:") and "\n" not in message


def test_failed_bash_command_logs_its_message_only(run_dag, caplog) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        BashOperator(task_id="b", bash_command="exit 4")
    with caplog.at_level(logging.ERROR, logger="sluice.task"):
        run_dag(dag)
    (message,) = _failure_logs(caplog)
    assert message == "task failed: BashCommandFailed: bash command failed with exit code 4"


def test_user_error_keeps_its_traceback_without_sluice_frames(run_dag, caplog) -> None:  # type: ignore[no-untyped-def]
    def broken() -> None:
        raise ValueError("bad input")

    with DAG("d") as dag:
        PythonOperator(task_id="p", python_callable=broken)
    with caplog.at_level(logging.ERROR, logger="sluice.task"):
        result = run_dag(dag)
    (message,) = _failure_logs(caplog)
    head, trace = message.split("\n", 1)
    assert head == "task failed: ValueError: bad input"
    frames = [line for line in trace.splitlines() if line.lstrip().startswith("File ")]
    assert __file__ in frames[0] and "in broken" in frames[0]
    assert not any("sluice/runner" in f or "sluice/sdk" in f for f in frames)
    assert result.instances[0].error == "ValueError: bad input"
