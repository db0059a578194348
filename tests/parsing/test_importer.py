"""Tests for importing DAG files into a DagBag: collection, import errors, checks, timeouts."""

from __future__ import annotations

import os
import pickle
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sluice.core.errors import DagNotFound, ParsingError
from sluice.parsing.importer import (
    DagBag,
    ImportErrorInfo,
    example_dags_folder,
    import_dag_file,
    load_dag_bag,
    module_name_for,
)
from sluice.sdk.dag import DAG
from sluice.sdk.schedules import (
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    iter_dagrun_infos,
)

CYCLE = """
with DAG("cyc", schedule=None):
    a = EmptyOperator(task_id="a")
    b = EmptyOperator(task_id="b")
    a >> b >> a
"""

HEADER = """\
from datetime import datetime, timezone

from sluice import DAG, dag, task
from sluice.operators import EmptyOperator

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
"""


@pytest.fixture(autouse=True)
def _restore_import_state() -> Iterator[None]:
    """Forget the modules the DAG files imported, and check sys.path is left as it was."""
    modules = set(sys.modules)
    path = list(sys.path)
    yield
    for name in set(sys.modules) - modules:
        del sys.modules[name]
    assert sys.path == path


@pytest.fixture
def dags(tmp_path: Path) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    return folder


def write(folder: Path, name: str, body: str, *, header: bool = True) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((HEADER if header else "") + textwrap.dedent(body))
    return path


def line_of(path: Path, text: str) -> int:
    """The number of the line of ``path`` that contains ``text``."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def only_error(bag: DagBag) -> ImportErrorInfo:
    assert len(bag.import_errors) == 1, bag.import_errors
    return next(iter(bag.import_errors.values()))


# --- collecting DAGs ---


def test_a_file_with_two_dags(dags: Path) -> None:
    path = write(
        dags,
        "two.py",
        """
        with DAG("first", schedule="@daily", start_date=START):
            EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")

        second = DAG("second", schedule=None)
        EmptyOperator(task_id="c", dag=second)
        """,
    )

    bag = load_dag_bag([dags])

    assert bag.import_errors == {}
    assert sorted(bag.dags) == ["first", "second"]
    assert bag.get_dag("first").fileloc == str(path)
    assert bag.get_dag("first").task_ids == ["a", "b"]
    [stat] = bag.file_stats
    assert (stat.file, stat.dag_count, stat.task_count, stat.error) == (str(path), 2, 3, False)
    assert stat.duration > 0


def test_dag_decorated_function_called_at_module_level_counts(dags: Path) -> None:
    write(
        dags,
        "decorated.py",
        """
        @dag(schedule=None, start_date=START)
        def pipeline():
            @task
            def hello():
                return 1

            hello()

        pipeline()
        """,
    )

    bag = load_dag_bag([dags])

    assert bag.import_errors == {}
    assert bag.get_dag("pipeline").task_ids == ["hello"]


def test_dags_made_by_a_factory_count_but_a_helpers_own_dags_do_not(dags: Path) -> None:
    write(
        dags,
        "factory_helpers.py",
        """
        def make(dag_id):
            with DAG(dag_id, schedule=None) as made:
                EmptyOperator(task_id="only")
            return made

        # Made by the helper's own top-level code: it belongs to the helper, not the DAG file.
        helper_dag = DAG("helper_dag", schedule=None)
        """,
    )
    path = write(
        dags,
        "factory_user.py",
        """
        import factory_helpers

        for name in ["made_a", "made_b"]:
            factory_helpers.make(name)
        """,
    )

    dag_list, error, _ = import_dag_file(path)

    assert error is None
    assert [d.dag_id for d in dag_list] == ["made_a", "made_b"]
    assert {d.fileloc for d in dag_list} == {str(path)}


def test_helper_module_next_to_the_dag_file_imports(dags: Path) -> None:
    (dags / "sibling_helper_mod.py").write_text("TASK_IDS = ['x', 'y']\n")
    write(
        dags,
        "uses_helper.py",
        """
        from sibling_helper_mod import TASK_IDS

        with DAG("helped", schedule=None):
            for task_id in TASK_IDS:
                EmptyOperator(task_id=task_id)
        """,
    )

    bag = load_dag_bag([dags])

    assert bag.import_errors == {}
    assert bag.get_dag("helped").task_ids == ["x", "y"]
    assert str(dags) not in sys.path


def test_module_is_registered_under_a_stable_name_so_its_functions_pickle(dags: Path) -> None:
    path = write(
        dags,
        "picklable.py",
        """
        def double(x):
            return 2 * x

        with DAG("picklable", schedule=None):
            EmptyOperator(task_id="t")
        """,
    )

    load_dag_bag([dags])

    module = sys.modules[module_name_for(path)]
    double = pickle.loads(pickle.dumps(module.double))
    assert double(21) == 42
    assert module_name_for(path) == module_name_for(Path(os.path.relpath(path)))


def test_reimporting_a_changed_file_picks_up_the_change(dags: Path) -> None:
    # Same size, same second: a bytecode cache keyed on whole-second mtimes would miss this.
    source = """
        with DAG("changing", schedule=None):
            EmptyOperator(task_id="{}")
        """
    path = write(dags, "changing.py", source.format("aaa"))
    first, _, _ = import_dag_file(path)
    write(dags, "changing.py", source.format("bbb"))
    second, _, _ = import_dag_file(path)

    assert first[0].task_ids == ["aaa"]
    assert second[0].task_ids == ["bbb"]
    assert sys.modules[module_name_for(path)].__dict__["__name__"] == module_name_for(path)


# --- import errors from the file's own code ---


def test_syntax_error_reports_its_line(dags: Path) -> None:
    path = write(dags, "broken.py", "\nwith DAG('broken', schedule=None)\n    pass\n")

    bag = load_dag_bag([dags])

    error = only_error(bag)
    line = line_of(path, "with DAG('broken'")
    assert error.file == str(path)
    assert error.line == line
    assert error.message.startswith(f"dags/broken.py:{line}: SyntaxError:")
    assert "SyntaxError" in error.traceback
    assert module_name_for(path) not in sys.modules


def test_runtime_exception_keeps_the_users_traceback(dags: Path) -> None:
    path = write(
        dags,
        "raises.py",
        """
        def compute():
            return {}["missing_key"]

        with DAG("raises", schedule=None):
            EmptyOperator(task_id=compute())
        """,
    )

    bag = load_dag_bag([dags])

    error = only_error(bag)
    call_line = line_of(path, "EmptyOperator(task_id=compute())")
    assert error.line == line_of(path, 'return {}["missing_key"]')
    assert error.message == f"dags/raises.py:{error.line}: KeyError: 'missing_key'"
    assert error.traceback.startswith("Traceback (most recent call last):\n")
    assert f'File "{path}", line {call_line}, in <module>' in error.traceback
    assert f'File "{path}", line {error.line}, in compute' in error.traceback
    assert "importer.py" not in error.traceback
    assert error.traceback.rstrip().endswith("KeyError: 'missing_key'")
    assert bag.dags == {}


def test_sys_exit_in_a_dag_file_is_an_import_error(dags: Path) -> None:
    path = write(dags, "exits.py", "import sys\n\nsys.exit(3)\n")

    error = only_error(load_dag_bag([dags]))

    assert error.message == f"dags/exits.py:{line_of(path, 'sys.exit')}: SystemExit: 3"


def test_a_slow_file_times_out(dags: Path) -> None:
    path = write(dags, "slow.py", "import time\n\ntime.sleep(10)\n")

    started = time.perf_counter()
    bag = load_dag_bag([dags], import_timeout=0.5)

    assert time.perf_counter() - started < 5
    error = only_error(bag)
    assert error.line == line_of(path, "time.sleep(10)")
    assert error.message == f"dags/slow.py:{error.line}: DAG file took longer than 0.5 s to import"
    assert "time.sleep(10)" in error.traceback
    assert "importer.py" not in error.traceback
    assert bag.file_stats[0].error


def test_time_limit_does_not_catch_except_exception(dags: Path) -> None:
    write(
        dags,
        "stubborn.py",
        """
        import time

        try:
            time.sleep(10)
        except Exception:
            pass
        with DAG("stubborn", schedule=None):
            pass
        """,
    )

    bag = load_dag_bag([dags], import_timeout=0.3)

    assert "took longer than 0.3 s" in only_error(bag).message
    assert bag.dags == {}


def test_off_the_main_thread_there_is_no_time_limit(dags: Path) -> None:
    path = write(dags, "dawdles.py", "import time\n\ntime.sleep(0.4)\nd = DAG('dawdles')\n")
    results: list[tuple[list[DAG], ImportErrorInfo | None, float]] = []

    thread = threading.Thread(target=lambda: results.append(import_dag_file(path, timeout=0.1)))
    thread.start()
    thread.join()

    [(dag_list, error, _)] = results
    assert error is None
    assert [d.dag_id for d in dag_list] == ["dawdles"]


# --- DAG definition errors ---


def test_cycle_names_the_file_the_dag_and_the_tasks(dags: Path) -> None:
    path = write(
        dags,
        "cyclic.py",
        """
        with DAG("etl", schedule=None):
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            a >> b >> a
        """,
    )

    error = only_error(load_dag_bag([dags]))

    line = line_of(path, 'with DAG("etl"')
    assert error.message == f"dags/cyclic.py:{line}: DAG 'etl' has a cycle: a >> b >> a"
    assert error.traceback == error.message
    assert (error.line, error.dag_id) == (line, "etl")


def test_a_10000_task_chain_is_checked_quickly(dags: Path) -> None:
    write(
        dags,
        "long_chain.py",
        """
        with DAG("long_chain", schedule=None):
            previous = EmptyOperator(task_id="t0")
            for i in range(1, 10_000):
                current = EmptyOperator(task_id=f"t{i}")
                previous >> current
                previous = current
        """,
    )

    bag = load_dag_bag([dags])

    assert bag.import_errors == {}
    assert bag.file_stats[0].task_count == 10_000


def test_duplicate_task_id(dags: Path) -> None:
    path = write(
        dags,
        "dup_task.py",
        """
        with DAG("dup_task", schedule=None):
            EmptyOperator(task_id="same")
            EmptyOperator(task_id="same")
        """,
    )

    error = only_error(load_dag_bag([dags]))

    line = line_of(path, 'EmptyOperator(task_id="same")') + 1
    assert error.line == line
    assert error.message == (
        f"dags/dup_task.py:{line}: DAG 'dup_task': task id 'same' has already been added"
    )
    assert f'File "{path}", line {line}' in error.traceback
    assert "sluice/sdk" not in error.traceback
    assert error.dag_id == "dup_task"


def test_task_in_two_dags(dags: Path) -> None:
    write(
        dags,
        "two_homes.py",
        """
        one = DAG("one", schedule=None)
        two = DAG("two", schedule=None)
        shared = EmptyOperator(task_id="shared", dag=one)
        two.add_task(shared)
        """,
    )

    error = only_error(load_dag_bag([dags]))

    assert "task 'shared' is already in DAG 'one'" in error.message
    assert "DAG 'two'" in error.message


def test_unknown_trigger_rule(dags: Path) -> None:
    write(
        dags,
        "bad_rule.py",
        """
        with DAG("bad_rule", schedule=None):
            EmptyOperator(task_id="t", trigger_rule="sometimes")
        """,
    )

    error = only_error(load_dag_bag([dags]))

    assert "task 't' of DAG 'bad_rule'" in error.message
    assert "unknown trigger rule 'sometimes'" in error.message
    assert error.dag_id == "bad_rule"


def test_bad_cron_schedule(dags: Path) -> None:
    path = write(dags, "bad_cron.py", 'DAG("bad_cron", schedule="61 * * * *", start_date=START)\n')

    error = only_error(load_dag_bag([dags]))

    assert error.line == line_of(path, "bad_cron")
    assert "DAG 'bad_cron': invalid schedule '61 * * * *'" in error.message
    assert "minute 61 is out of range 0-59" in error.message
    assert error.dag_id == "bad_cron"


def test_a_users_exception_has_no_dag_id(dags: Path) -> None:
    write(dags, "boom.py", 'DAG("boom", schedule=None)\nraise ValueError("DAG \'boom\' is bad")\n')

    assert only_error(load_dag_bag([dags])).dag_id is None


def test_missing_start_date_with_a_schedule(dags: Path) -> None:
    write(
        dags,
        "no_start.py",
        """
        with DAG("no_start", schedule="@daily"):
            EmptyOperator(task_id="t")
        with DAG("fine", schedule=None):
            EmptyOperator(task_id="t")
        """,
    )

    bag = load_dag_bag([dags])

    error = only_error(bag)
    assert "DAG 'no_start' has schedule" in error.message
    assert "no start_date" in error.message
    assert error.dag_id == "no_start"
    # The file's other DAGs still load, as in Airflow.
    assert list(bag.dags) == ["fine"]
    assert bag.file_stats[0].dag_count == 1
    assert bag.file_stats[0].error


def test_dag_id_twice_in_one_file(dags: Path) -> None:
    path = write(dags, "twice.py", 'a = DAG("twice", schedule=None)\nb = DAG("twice")\n')

    dag_list, error, _ = import_dag_file(path)

    assert len(dag_list) == 1
    assert error is not None
    first, second = line_of(path, "a = DAG"), line_of(path, "b = DAG")
    # A file imported on its own is labelled with its absolute path.
    assert error.message == (
        f"{path}:{second}: DAG 'twice' is defined twice in this file (lines {first} and {second})"
    )


def test_dag_id_in_two_files_errors_on_the_second(dags: Path) -> None:
    first = write(dags, "a.py", 'DAG("shared_id", schedule=None)\n')
    second = write(dags, "b.py", 'DAG("shared_id", schedule=None)\n')

    bag = load_dag_bag([dags])

    error = only_error(bag)
    assert error.file == str(second)
    assert error.message == (
        f"dags/b.py:{line_of(second, 'shared_id')}: "
        "DAG 'shared_id' is defined in both dags/a.py and dags/b.py"
    )
    assert bag.get_dag("shared_id").fileloc == str(first)


# --- several files ---


def test_a_bad_file_does_not_stop_a_good_one(dags: Path) -> None:
    bad = write(dags, "a_bad.py", "raise RuntimeError('boom')\n")
    write(dags, "b_good.py", 'with DAG("good", schedule=None):\n    EmptyOperator(task_id="t")\n')

    bag = load_dag_bag([dags])

    assert list(bag.dags) == ["good"]
    line = line_of(bad, "boom")
    assert only_error(bag).message == f"dags/a_bad.py:{line}: RuntimeError: boom"
    assert [(Path(s.file).name, s.error) for s in bag.file_stats] == [
        ("a_bad.py", True),
        ("b_good.py", False),
    ]


def test_safe_mode_skips_files_without_the_words(dags: Path) -> None:
    write(dags, "plain.py", "raise RuntimeError('never imported')\n", header=False)
    write(dags, "real.py", 'DAG("real", schedule=None)\n')

    assert list(load_dag_bag([dags]).dags) == ["real"]
    assert only_error(load_dag_bag([dags], safe_mode=False)).message.startswith("dags/plain.py")


def test_sluiceignore_is_respected(dags: Path) -> None:
    (dags / ".sluiceignore").write_text("ignored_*.py\n")
    write(dags, "ignored_one.py", "raise RuntimeError('dag never imported')\n")
    write(dags, "kept.py", 'DAG("kept", schedule=None)\n')

    bag = load_dag_bag([dags])

    assert (list(bag.dags), bag.import_errors) == (["kept"], {})


def test_nested_files_are_labelled_from_the_scanned_folder(dags: Path) -> None:
    path = write(dags, "team/nested.py", "raise ValueError('nested')\n")

    error = only_error(load_dag_bag([dags]))

    line = line_of(path, "nested")
    assert error.message == f"dags/team/nested.py:{line}: ValueError: nested"


def test_a_single_file_is_labelled_with_its_absolute_path(dags: Path) -> None:
    path = write(dags, "cyclic.py", CYCLE)

    error = only_error(load_dag_bag([path]))

    assert error.message.startswith(f"{path}:{line_of(path, 'with DAG')}: DAG 'cyc' has a cycle")


def test_missing_folder_raises_parsing_error(tmp_path: Path) -> None:
    with pytest.raises(ParsingError, match="DAGs folder not found"):
        load_dag_bag([tmp_path / "nope"])


# --- settings applied after import ---


def test_cron_reading_and_catchup_default_come_from_the_settings(dags: Path) -> None:
    write(
        dags,
        "settings.py",
        """
        DAG("defaulted", schedule="0 3 * * *", start_date=START)
        DAG("explicit", schedule="0 3 * * *", start_date=START, catchup=False)
        """,
    )

    intervals = load_dag_bag([dags], cron_data_intervals=True)
    triggers = load_dag_bag([dags], cron_data_intervals=False, catchup_by_default=True)

    assert isinstance(intervals.get_dag("defaulted").timetable, CronDataIntervalTimetable)
    assert isinstance(triggers.get_dag("defaulted").timetable, CronTriggerTimetable)
    assert not intervals.get_dag("defaulted").catchup
    assert triggers.get_dag("defaulted").catchup
    assert not triggers.get_dag("explicit").catchup


def test_default_timezone_reads_naive_dates(dags: Path) -> None:
    write(
        dags,
        "zoned.py",
        """
        from datetime import datetime as naive
        with DAG("zoned", schedule="@daily", start_date=naive(2024, 3, 1), catchup=True):
            EmptyOperator(task_id="t", end_date=naive(2024, 4, 1))
        DAG("aware", schedule="@daily", start_date=START)
        """,
    )
    paris = ZoneInfo("Europe/Paris")

    bag = load_dag_bag([dags], default_timezone="Europe/Paris")

    zoned = bag.get_dag("zoned")
    assert zoned.start_date == datetime(2024, 3, 1, tzinfo=paris)
    assert zoned.timezone == paris
    assert zoned.timetable.timezone == paris  # type: ignore[attr-defined]
    assert zoned.get_task("t").end_date == datetime(2024, 4, 1, tzinfo=paris)  # type: ignore[attr-defined]
    first = iter_dagrun_infos(zoned.timetable, start_date=zoned.start_date_utc, limit=1)[0]
    assert first.logical_date == datetime(2024, 2, 29, 23, tzinfo=UTC)  # midnight in Paris
    # An aware start_date keeps its own timezone.
    assert bag.get_dag("aware").timezone is UTC
    # UTC, the default, reads them in UTC.
    assert load_dag_bag([dags]).get_dag("zoned").start_date == datetime(2024, 3, 1, tzinfo=UTC)


def test_unknown_default_timezone_raises_parsing_error(dags: Path) -> None:
    with pytest.raises(ParsingError, match="invalid default_timezone: unknown timezone 'Mars/X'"):
        load_dag_bag([dags], default_timezone="Mars/X")


def test_warnings_raised_while_importing_are_kept(dags: Path) -> None:
    path = write(
        dags,
        "old_style.py",
        """
        import warnings
        DAG("old", schedule_interval="@daily", start_date=START)

        @dag(schedule_interval="@daily", start_date=START)
        def old_decorated():
            EmptyOperator(task_id="t")

        old_decorated()
        for _ in range(3):
            warnings.warn("said three times, kept once", UserWarning)
        """,
    )
    label = "dags/old_style.py"

    old_line = line_of(path, 'DAG("old"')
    lines = path.read_text().splitlines()
    call_line = lines.index("old_decorated()") + 1

    bag = load_dag_bag([dags])

    assert bag.warnings == [
        f"{label}:{old_line}: DeprecationWarning: DAG 'old':"
        " schedule_interval is deprecated; use schedule",
        f"{label}:{call_line}: DeprecationWarning:"
        " DAG 'old_decorated': schedule_interval is deprecated; use schedule",
        f"{label}:{line_of(path, 'warnings.warn')}: UserWarning: said three times, kept once",
    ]
    assert sorted(bag.dags) == ["old", "old_decorated"]


def test_warnings_of_a_file_that_fails_are_kept_too(dags: Path) -> None:
    write(dags, "bad.py", 'DAG("x", schedule_interval=None)\nraise RuntimeError("boom")\n')

    bag = load_dag_bag([dags])

    assert len(bag.warnings) == 1 and "schedule_interval is deprecated" in bag.warnings[0]
    assert len(bag.import_errors) == 1


def test_get_dag_suggests_close_ids(dags: Path) -> None:
    write(dags, "etl.py", 'DAG("daily_etl", schedule=None)\n')

    bag = load_dag_bag([dags])

    with pytest.raises(DagNotFound, match=r"DAG 'daily_elt' not found\. Did you mean: 'daily_etl'"):
        bag.get_dag("daily_elt")


def test_get_dag_of_a_dag_that_failed_its_checks_says_so(dags: Path) -> None:
    path = write(dags, "cyclic.py", CYCLE)

    bag = load_dag_bag([dags])

    line = line_of(path, "with DAG")
    with pytest.raises(DagNotFound) as caught:
        bag.get_dag("cyc")
    assert str(caught.value) == (
        f"DAG 'cyc' failed to import: dags/cyclic.py:{line}: DAG 'cyc' has a cycle: a >> b >> a;"
        " see `sluice dags list-import-errors`"
    )


def test_get_dag_of_a_dag_named_by_an_error_message(dags: Path) -> None:
    write(
        dags,
        "shared.py",
        """
        DAG("first", schedule=None)
        with DAG("second", schedule=None):
            EmptyOperator(task_id="t", trigger_rule="sometimes")
        """,
    )

    bag = load_dag_bag([dags])

    with pytest.raises(DagNotFound, match=r"^DAG 'second' failed to import: .*'sometimes'"):
        bag.get_dag("second")
    # The file failed before collecting "first": only its source names it.
    with pytest.raises(DagNotFound, match=r"^DAG 'first' failed to import: .*'sometimes'"):
        bag.get_dag("first")


def test_get_dag_of_a_file_that_failed_before_defining_it(dags: Path) -> None:
    write(dags, "early.py", 'import no_such_module\nDAG("late", schedule=None)\n')

    bag = load_dag_bag([dags])

    with pytest.raises(DagNotFound) as caught:
        bag.get_dag("late", errors_command="my-errors")
    assert str(caught.value).startswith("DAG 'late' failed to import: dags/early.py:")
    assert "ModuleNotFoundError: No module named 'no_such_module'; see `my-errors`" in str(
        caught.value
    )


def test_get_dag_counts_failed_files_when_no_error_matches(dags: Path) -> None:
    write(dags, "etl.py", 'DAG("daily_etl", schedule=None)\n')
    write(dags, "broken_a.py", "raise RuntimeError('a')\n")
    write(dags, "broken_b.py", "raise RuntimeError('b')\n")

    bag = load_dag_bag([dags])

    with pytest.raises(DagNotFound) as caught:
        bag.get_dag("other")
    assert str(caught.value) == (
        "DAG 'other' not found. Known: daily_etl"
        " (2 files failed to import; see `sluice dags list-import-errors`)"
    )


def test_example_dags_folder_is_the_packaged_one() -> None:
    folder = example_dags_folder()

    assert folder.name == "example_dags"
    assert (folder / "__init__.py").is_file()
