from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sluice import DAG
from sluice.core.states import TaskInstanceState
from sluice.operators import BashOperator, EmptyOperator
from sluice.runner.xcom import pull_one

S = TaskInstanceState


def run_bash(make_run, **kwargs: Any) -> tuple[Any, Any]:  # type: ignore[no-untyped-def]
    """Run one BashOperator; return its record and its return_value."""
    fileloc = kwargs.pop("fileloc", None)
    with DAG("d", fileloc=fileloc) as dag:
        BashOperator(task_id="b", **kwargs)
    run = make_run(dag)
    (record,) = run.execute().instances
    return record, pull_one(run.xcom, "b", -1, "return_value")


def test_last_line_of_output_goes_to_xcom(make_run) -> None:  # type: ignore[no-untyped-def]
    record, value = run_bash(make_run, bash_command="echo first; echo second")
    assert record.state is S.SUCCESS
    assert value == "second"


def test_stderr_is_part_of_the_output(make_run) -> None:  # type: ignore[no-untyped-def]
    _, value = run_bash(make_run, bash_command="echo out; echo err >&2")
    assert value == "err"


def test_no_output_pushes_empty_string(make_run) -> None:  # type: ignore[no-untyped-def]
    record, value = run_bash(make_run, bash_command="true")
    assert record.state is S.SUCCESS and value == ""


def test_do_xcom_push_false(make_run) -> None:  # type: ignore[no-untyped-def]
    _, value = run_bash(make_run, bash_command="echo hi", do_xcom_push=False)
    assert value is None


def test_non_zero_exit_fails(make_run) -> None:  # type: ignore[no-untyped-def]
    record, _ = run_bash(make_run, bash_command="echo oops; exit 3")
    assert record.state is S.FAILED
    assert "exit code 3" in (record.error or "")


def test_exit_99_skips(make_run) -> None:  # type: ignore[no-untyped-def]
    record, _ = run_bash(make_run, bash_command="exit 99")
    assert record.state is S.SKIPPED


def test_custom_skip_exit_codes(make_run) -> None:  # type: ignore[no-untyped-def]
    record, _ = run_bash(make_run, bash_command="exit 7", skip_on_exit_code=7)
    assert record.state is S.SKIPPED
    record, _ = run_bash(make_run, bash_command="exit 8", skip_on_exit_code=[7, 8])
    assert record.state is S.SKIPPED
    record, _ = run_bash(make_run, bash_command="exit 99", skip_on_exit_code=7)
    assert record.state is S.FAILED
    record, _ = run_bash(make_run, bash_command="exit 99", skip_on_exit_code=None)
    assert record.state is S.FAILED


def test_skip_makes_all_success_downstream_skip(make_run, states) -> None:  # type: ignore[no-untyped-def]
    with DAG("d") as dag:
        BashOperator(task_id="b", bash_command="exit 99") >> EmptyOperator(task_id="after")
    assert states(make_run(dag).execute()) == {"b": S.SKIPPED, "after": S.SKIPPED}


def test_env_replaces_os_environ(make_run, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SLUICE_TEST_OUTER", "outer")
    _, value = run_bash(
        make_run,
        bash_command='echo "${MINE}|${SLUICE_TEST_OUTER:-unset}"',
        env={"MINE": "{{ ds }}"},
    )
    assert value == "2024-03-15|unset"


def test_append_env_keeps_os_environ(make_run, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SLUICE_TEST_OUTER", "outer")
    _, value = run_bash(
        make_run,
        bash_command='echo "${MINE}|${SLUICE_TEST_OUTER}"',
        env={"MINE": "mine"},
        append_env=True,
    )
    assert value == "mine|outer"


def test_no_env_inherits_os_environ(make_run, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SLUICE_TEST_OUTER", "outer")
    _, value = run_bash(make_run, bash_command="echo $SLUICE_TEST_OUTER")
    assert value == "outer"


def test_context_environment_variables(make_run) -> None:  # type: ignore[no-untyped-def]
    _, value = run_bash(
        make_run,
        bash_command='echo "$AIRFLOW_CTX_DAG_ID $SLUICE_CTX_TASK_ID $SLUICE_CTX_TRY_NUMBER"',
        env={},
    )
    assert value == "d b 1"


def test_cwd(make_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, value = run_bash(make_run, bash_command="pwd", cwd=str(tmp_path))
    assert Path(value).resolve() == tmp_path.resolve()


def test_missing_cwd_fails(make_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record, _ = run_bash(make_run, bash_command="pwd", cwd=str(tmp_path / "nope"))
    assert record.state is S.FAILED
    assert "is not a directory" in (record.error or "")


def test_templated_command(make_run) -> None:  # type: ignore[no-untyped-def]
    _, value = run_bash(make_run, bash_command="echo {{ ds_nodash }}-{{ task.task_id }}")
    assert value == "20240315-b"


def test_script_file_loaded_from_the_dag_folder(make_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dag_file = tmp_path / "pipeline.py"
    dag_file.write_text("from sluice import DAG\n")
    (tmp_path / "script.sh").write_text('echo "script ran for {{ ds }}"\n')
    record, value = run_bash(make_run, bash_command="script.sh", fileloc=str(dag_file))
    assert record.state is S.SUCCESS, record.error
    assert value == "script ran for 2024-03-15"


def test_script_path_with_trailing_space_is_not_loaded(make_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "run.sh"
    script.write_text("echo '{{ not rendered }}'\n")
    # Airflow's documented trick: a trailing space makes it a plain command, not a template file.
    record, value = run_bash(make_run, bash_command=f"bash {script} ")
    assert record.state is S.SUCCESS, record.error
    assert value == "{{ not rendered }}"


def test_command_ending_in_sh_is_a_template_file(make_run) -> None:  # type: ignore[no-untyped-def]
    record, _ = run_bash(make_run, bash_command="bash missing.sh")
    assert record.state is S.FAILED
    assert "template file 'bash missing.sh' not found" in (record.error or "")


def test_empty_command_fails(make_run) -> None:  # type: ignore[no-untyped-def]
    record, _ = run_bash(make_run, bash_command="  ")
    assert record.state is S.FAILED
    assert "bash_command is empty" in (record.error or "")


def test_execution_timeout_kills_the_command(make_run) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    record, _ = run_bash(
        make_run, bash_command="sleep 10", execution_timeout=timedelta(seconds=0.5)
    )
    assert time.monotonic() - started < 5
    assert record.state is S.FAILED
    assert "timed out after 0.5 s" in (record.error or "")


def test_execution_timeout_kills_child_processes(make_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "marker"
    record, _ = run_bash(
        make_run,
        bash_command=f"(sleep 1; touch {marker}) & sleep 10",
        execution_timeout=0.3,
    )
    assert record.state is S.FAILED
    time.sleep(1.5)
    assert not marker.exists()


def test_output_encoding(make_run) -> None:  # type: ignore[no-untyped-def]
    _, value = run_bash(make_run, bash_command="printf 'caf\\xe9\\n'", output_encoding="latin-1")
    assert value == "café"


@pytest.mark.parametrize("code", [1, 2, 127])
def test_failure_codes(make_run, code: int) -> None:  # type: ignore[no-untyped-def]
    record, _ = run_bash(make_run, bash_command=f"exit {code}")
    assert record.state is S.FAILED
