"""The DAG processor keeps the store in step with the DAG files: new, unchanged, changed,
broken, fixed, deleted and duplicate files, on every backend."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from tests.processor.conftest import DAILY, MakeProcessor, WriteDag

from sluice.parsing.serialize import deserialize_dag
from sluice.store.dag_admin import delete_dag
from sluice.store.dags import path_hash
from sluice.store.engine import Store
from sluice.store.tables import Dag, DagFile, ImportErrorRow, SerializedDagRow


def _dag(store: Store, dag_id: str) -> Dag | None:
    with store.transaction() as session:
        return session.get(Dag, dag_id)


def _serialized(store: Store, dag_id: str) -> SerializedDagRow | None:
    with store.transaction() as session:
        return session.get(SerializedDagRow, dag_id)


def _file(store: Store, path: Path) -> DagFile:
    with store.transaction() as session:
        row = session.scalar(select(DagFile).where(DagFile.path_hash == path_hash(str(path))))
        assert row is not None, f"no dag_file row for {path}"
        return row


def _errors(store: Store) -> list[ImportErrorRow]:
    with store.transaction() as session:
        return list(session.scalars(select(ImportErrorRow).order_by(ImportErrorRow.filename)))


def test_a_new_file_gives_dag_and_serialized_rows_paused_by_default(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    path = write_dag("daily.py", DAILY, dag_id="daily")

    report = make_processor().run_once()

    assert report.parsed == (str(path),)
    assert report.added == ("daily",)
    dag = _dag(store, "daily")
    assert dag is not None
    assert (dag.is_paused, dag.is_active, dag.has_import_errors) == (True, True, False)
    assert dag.fileloc == str(path)
    assert json.loads(dag.tags) == ["t"]
    assert (dag.schedule, dag.timetable_description) == ("@daily", "At 00:00")
    assert dag.last_parsed_at is not None
    serialized = _serialized(store, "daily")
    assert serialized is not None
    assert deserialize_dag(serialized.data).task_ids == ["a", "b"]
    row = _file(store, path)
    assert (row.dag_count, row.task_count, row.has_error, row.is_present) == (1, 2, False, True)
    assert row.duration > 0


def test_new_dags_start_unpaused_when_configured_or_asked(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    write_dag("daily.py", DAILY, dag_id="daily")
    write_dag(
        "asks.py",
        """
        from datetime import datetime
        from sluice import DAG
        from sluice.operators import EmptyOperator

        with DAG("asks", schedule=None, start_date=datetime(2024, 1, 1),
                 is_paused_upon_creation=True) as dag:
            EmptyOperator(task_id="a")
        """,
    )

    make_processor(paused_at_creation=False).run_once()

    assert _dag(store, "daily").is_paused is False  # type: ignore[union-attr]
    assert _dag(store, "asks").is_paused is True  # type: ignore[union-attr]


def test_an_unchanged_file_is_not_imported_again(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    path = write_dag("daily.py", DAILY, dag_id="daily")
    processor = make_processor()
    processor.run_once()
    parsed_at = _file(store, path).last_parsed_at

    report = processor.run_once()

    assert not report.changed
    assert processor.files_imported == 1
    assert _file(store, path).last_parsed_at == parsed_at
    # A restarted processor compares the content hash with the stored one: still nothing.
    fresh = make_processor()
    assert not fresh.run_once().changed
    assert fresh.files_imported == 0


def test_a_touched_but_identical_file_is_not_imported_again(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    write_dag("daily.py", DAILY, dag_id="daily")
    processor = make_processor()
    processor.run_once()

    write_dag("daily.py", DAILY, dag_id="daily")  # same bytes, new mtime

    assert not processor.run_once().changed
    assert processor.files_imported == 1


def test_a_changed_file_updates_the_serialized_dag_and_the_row(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    write_dag("daily.py", DAILY, dag_id="daily")
    processor = make_processor()
    processor.run_once()
    before = _serialized(store, "daily")
    assert before is not None

    write_dag("daily.py", DAILY.replace('tags=["t"]', 'tags=["u", "v"]'), dag_id="daily")
    report = processor.run_once()

    assert report.updated == ("daily",)
    after = _serialized(store, "daily")
    assert after is not None
    assert after.dag_hash != before.dag_hash
    assert json.loads(_dag(store, "daily").tags) == ["u", "v"]  # type: ignore[union-attr]


def test_a_broken_file_gets_an_import_error_until_it_is_fixed(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    path = write_dag("daily.py", DAILY, dag_id="daily")
    processor = make_processor()
    processor.run_once()

    write_dag("daily.py", DAILY.replace("with DAG(", "with DAG(("), dag_id="daily")
    report = processor.run_once()

    assert list(report.errors) == [str(path)]
    [error] = _errors(store)
    assert error.filename == str(path)
    assert "SyntaxError" in error.message
    assert _file(store, path).has_error
    dag = _dag(store, "daily")
    # The last good version stays, flagged, so that nothing disappears silently.
    assert dag is not None
    assert (dag.is_active, dag.has_import_errors) == (True, True)

    write_dag("daily.py", DAILY, dag_id="daily")
    report = processor.run_once()

    assert not report.errors
    assert _errors(store) == []
    assert not _file(store, path).has_error
    assert _dag(store, "daily").has_import_errors is False  # type: ignore[union-attr]


def test_a_dag_that_fails_its_checks_is_reported_with_its_file(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    write_dag(
        "bad_cron.py",
        """
        from datetime import datetime
        from sluice import DAG
        from sluice.operators import EmptyOperator

        with DAG("bad_cron", schedule="not a cron", start_date=datetime(2024, 1, 1)) as dag:
            EmptyOperator(task_id="a")
        """,
    )

    make_processor().run_once()

    [error] = _errors(store)
    assert "invalid schedule" in error.message
    assert error.dag_id == "bad_cron"
    assert _dag(store, "bad_cron") is None


def test_a_deleted_file_makes_its_dags_inactive_and_keeps_the_rows(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    path = write_dag("daily.py", DAILY, dag_id="daily")
    broken = write_dag("broken.py", "import sluice  # a dag\nraise ValueError('no')\n")
    processor = make_processor()
    processor.run_once()
    assert len(_errors(store)) == 1

    path.unlink()
    broken.unlink()
    report = processor.run_once()

    assert set(report.removed) == {str(path), str(broken)}
    assert report.deactivated == ("daily",)
    dag = _dag(store, "daily")
    assert dag is not None
    assert dag.is_active is False
    assert _serialized(store, "daily") is not None
    assert _file(store, path).is_present is False
    assert _errors(store) == []

    write_dag("daily.py", DAILY, dag_id="daily")  # back again: active again
    report = processor.run_once()
    assert report.added == ("daily",)
    assert _dag(store, "daily").is_active is True  # type: ignore[union-attr]


def test_a_dag_removed_from_its_file_becomes_inactive(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    two = DAILY + '\nwith DAG("second", schedule=None, start_date=datetime(2024, 1, 1)):\n'
    two += '    EmptyOperator(task_id="x")\n'
    write_dag("two.py", two, dag_id="first")
    processor = make_processor()
    assert processor.run_once().added == ("first", "second")

    write_dag("two.py", DAILY, dag_id="first")
    report = processor.run_once()

    assert report.deactivated == ("second",)
    assert _dag(store, "second").is_active is False  # type: ignore[union-attr]
    assert _dag(store, "first").is_active is True  # type: ignore[union-attr]


def test_a_duplicate_dag_id_is_an_import_error_of_the_second_file(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    first = write_dag("a.py", DAILY, dag_id="same")
    second = write_dag("b.py", DAILY, dag_id="same")

    processor = make_processor()
    processor.run_once()

    [error] = _errors(store)
    assert error.filename == str(second)
    assert "DAG 'same' is defined in both" in error.message
    assert _dag(store, "same").fileloc == str(first)  # type: ignore[union-attr]
    assert _file(store, second).dag_count == 0

    # Once the first file lets the id go, the second gets it in the same scan.
    write_dag("a.py", DAILY, dag_id="other")
    processor.run_once()

    assert _errors(store) == []
    assert _dag(store, "same").fileloc == str(second)  # type: ignore[union-attr]
    assert _dag(store, "same").is_active is True  # type: ignore[union-attr]
    assert _dag(store, "other").fileloc == str(first)  # type: ignore[union-attr]


def test_a_file_that_keeps_its_id_wins_over_a_new_one(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    # "z.py" sorts after "a.py" but had the id first: it keeps it.
    old = write_dag("z.py", DAILY, dag_id="same")
    processor = make_processor()
    processor.run_once()

    new = write_dag("a.py", DAILY, dag_id="same")
    processor.run_once()

    [error] = _errors(store)
    assert error.filename == str(new)
    assert _dag(store, "same").fileloc == str(old)  # type: ignore[union-attr]


def test_safe_mode_and_sluiceignore_decide_which_files_are_dag_files(
    store: Store, dags_dir: Path, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    write_dag("daily.py", DAILY, dag_id="daily")
    write_dag("helper.py", "VALUE = 1\n")  # mentions neither: not a DAG file in safe mode
    write_dag("skipped/old.py", DAILY, dag_id="old")
    (dags_dir / ".sluiceignore").write_text("skipped/\n")

    report = make_processor().run_once()

    assert report.files == 1
    assert report.added == ("daily",)


def test_a_parsing_process_that_dies_fails_only_its_file(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    crash = write_dag("crash.py", "import os  # sluice dag\nos._exit(3)\n")
    write_dag("daily.py", DAILY, dag_id="daily")
    processor = make_processor()

    report = processor.run_once()

    assert "the parsing process died (exit code 3)" in report.errors[str(crash)]
    assert report.added == ("daily",)
    # The replacement process parses the next change.
    write_dag("daily.py", DAILY, dag_id="daily2")
    assert processor.run_once().added == ("daily2",)


def test_a_helper_module_edit_is_seen_by_the_warm_parsing_process(
    store: Store, dags_dir: Path, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    write_dag("dag_ids.py", "NAME = 'from_helper_1'\n")
    source = DAILY.replace('"{dag_id}"', "NAME").replace(
        "from sluice import DAG", "from sluice import DAG\nfrom dag_ids import NAME"
    )
    write_dag("uses_helper.py", source)
    processor = make_processor()
    assert processor.run_once().added == ("from_helper_1",)

    write_dag("dag_ids.py", "NAME = 'from_helper_2'\n")
    write_dag("uses_helper.py", source + "\n# edited\n")

    assert processor.run_once().added == ("from_helper_2",)


def test_a_deleted_dag_whose_file_is_still_there_comes_back_at_the_next_parse(
    store: Store, write_dag: WriteDag, make_processor: MakeProcessor
) -> None:
    write_dag("daily.py", DAILY, dag_id="daily")
    processor = make_processor()
    processor.run_once()
    with store.transaction() as session:
        delete_dag(session, "daily")
    assert _dag(store, "daily") is None

    processor.run_once()

    assert _dag(store, "daily") is not None
    assert _serialized(store, "daily") is not None
