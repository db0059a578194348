"""Sensors run by the task runner: poke, reschedule (the slot is freed), timeout, soft_fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from tests.runner.conftest import Stored

from sluice.core.messages import RunnerExit
from sluice.core.states import TaskInstanceState
from sluice.store import transitions
from sluice.store.tables import TaskInstance

S = TaskInstanceState


def _sensor_dag(stored: Stored, tmp_path: Path, **sensor_args: object) -> str:
    """DAG 'sense': a PythonSensor that is done once the file ``tmp_path/ready`` exists."""
    ready = tmp_path / "ready"
    args = ", ".join(f"{k}={v!r}" for k, v in sensor_args.items())
    stored.write(
        "sense.py",
        f"""
        def check():
            print("poking")
            if os.path.exists({str(ready)!r}):
                return PokeReturnValue(True, "found it")
            return False

        with DAG("sense", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            PythonSensor(task_id="wait", python_callable=check, {args})
        """,
    )
    return stored.trigger("sense")


def test_a_poke_mode_sensor_succeeds_with_its_poke_value(stored: Stored, tmp_path: Path) -> None:
    run_id = _sensor_dag(stored, tmp_path, poke_interval=0.05)
    (tmp_path / "ready").touch()
    assert stored.run("sense", run_id, "wait") == RunnerExit.OUTCOME_WRITTEN
    ti = stored.ti("sense", run_id, "wait")
    assert ti.state == S.SUCCESS
    assert ti.first_try_start is not None


def test_reschedule_frees_the_slot_then_the_same_try_goes_on(
    stored: Stored, tmp_path: Path
) -> None:
    run_id = _sensor_dag(stored, tmp_path, poke_interval=120, mode="reschedule")
    before = datetime.now(UTC)
    assert stored.run("sense", run_id, "wait") == RunnerExit.OUTCOME_WRITTEN
    ti = stored.ti("sense", run_id, "wait")
    assert (ti.state, ti.try_number) == (S.UP_FOR_RESCHEDULE, 1)
    assert ti.next_try_at is not None
    assert timedelta(seconds=120) <= ti.next_try_at - before < timedelta(seconds=125)
    first_start = ti.first_try_start
    assert first_start is not None
    (attempt,) = stored.tries("sense", "wait")
    assert attempt.state == "up_for_reschedule"

    # The scheduler queues it again once next_try_at has passed: same try, same log file.
    (tmp_path / "ready").touch()
    assert stored.run("sense", run_id, "wait") == RunnerExit.OUTCOME_WRITTEN
    ti = stored.ti("sense", run_id, "wait")
    assert (ti.state, ti.try_number, ti.first_try_start) == (S.SUCCESS, 1, first_start)
    (attempt,) = stored.tries("sense", "wait")
    assert attempt.state == "success"
    assert attempt.start_date is not None and attempt.start_date <= ti.start_date  # type: ignore[operator]
    assert Path(attempt.log_path or "").read_text().count("poking") == 2


def test_a_sensor_past_its_timeout_fails_without_retries(stored: Stored, tmp_path: Path) -> None:
    run_id = _sensor_dag(stored, tmp_path, poke_interval=0.02, timeout=0.1, retries=3)
    stored.run("sense", run_id, "wait")
    ti = stored.ti("sense", run_id, "wait")
    assert (ti.state, ti.try_number) == (S.FAILED, 1)
    (attempt,) = stored.tries("sense", "wait")
    assert (attempt.error or "").startswith("SensorTimeout: sensor 'wait' timed out")


def test_soft_fail_skips_a_sensor_past_its_timeout(stored: Stored, tmp_path: Path) -> None:
    run_id = _sensor_dag(stored, tmp_path, poke_interval=0.02, timeout=0.1, soft_fail=True)
    stored.run("sense", run_id, "wait")
    assert stored.ti("sense", run_id, "wait").state == S.SKIPPED


def test_reschedule_timeout_counts_from_the_first_try_until_a_clear(
    stored: Stored, tmp_path: Path
) -> None:
    run_id = _sensor_dag(stored, tmp_path, poke_interval=1, timeout=600, mode="reschedule")
    stored.run("sense", run_id, "wait")
    with stored.store.transaction() as session:
        session.execute(
            update(TaskInstance)
            .where(TaskInstance.task_id == "wait")
            .values(first_try_start=datetime.now(UTC) - timedelta(hours=1))
        )
    stored.run("sense", run_id, "wait")
    assert stored.ti("sense", run_id, "wait").state == S.FAILED

    # Cleared, it waits its whole timeout again.
    with stored.store.transaction() as session:
        ti = stored.ti_row(session, "sense", run_id, "wait")
        assert transitions.clear(session, [ti], {"wait": 0}) == [ti.id]
    assert stored.ti("sense", run_id, "wait").first_try_start is None
    stored.run("sense", run_id, "wait")
    ti = stored.ti("sense", run_id, "wait")
    assert (ti.state, ti.try_number) == (S.UP_FOR_RESCHEDULE, 2)
