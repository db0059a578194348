"""``sluice dags list``, ``list-import-errors``, ``show`` and ``details``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from sluice.cli.main import cli

Invoke = Callable[..., Result]
WriteDag = Callable[[str, str], Path]

BROKEN = """
from sluice import DAG

raise RuntimeError("database [prod] is unreachable")
"""

DIAMOND = """
from datetime import datetime
from sluice import DAG, TaskGroup
from sluice.operators import EmptyOperator

with DAG(
    "diamond",
    start_date=datetime(2024, 1, 1),
    schedule="0 2 * * *",
    params={"limit": 10},
    default_args={"retries": 2},
    doc_md="Four tasks in a diamond.",
    tags=["b", "a"],
) as dag:
    start = EmptyOperator(task_id="start")
    with TaskGroup("middle") as middle:
        left = EmptyOperator(task_id="left")
        with TaskGroup("inner"):
            right = EmptyOperator(task_id="right")
    end = EmptyOperator(task_id="end")
    start >> [left, right]
    [left, right] >> end
"""


def test_dags_list_table(invoke: Invoke, tiny_dag: Path) -> None:
    result = invoke("dags", "list")

    assert result.exit_code == 0
    assert "tiny" in result.stdout
    assert str(tiny_dag) in result.stdout
    assert "@daily" in result.stdout
    assert result.stderr == ""


def test_dags_list_json(invoke: Invoke, tiny_dag: Path, write_dag: WriteDag) -> None:
    write_dag("diamond.py", DIAMOND)

    result = invoke("dags", "list", "--output", "json")

    assert result.exit_code == 0
    dags = json.loads(result.stdout)
    assert [d["dag_id"] for d in dags] == ["diamond", "tiny"]
    assert dags[1] == {
        "dag_id": "tiny",
        "fileloc": str(tiny_dag),
        "owners": "sluice",
        "schedule": "@daily",
        "tags": ["demo"],
        "tasks": 2,
    }


def test_dags_list_plain(invoke: Invoke, tiny_dag: Path) -> None:
    result = invoke("dags", "list", "-o", "plain")

    assert result.stdout == f"tiny\t{tiny_dag}\tsluice\t@daily\tdemo\t2\n"


def test_dags_list_includes_examples_when_enabled(invoke: Invoke) -> None:
    result = invoke("dags", "list", "-o", "json", examples=True)

    assert "example_etl" in [d["dag_id"] for d in json.loads(result.stdout)]


def test_dags_list_with_no_dags(invoke: Invoke) -> None:
    result = invoke("dags", "list")

    assert result.exit_code == 0
    assert result.stdout == "No DAGs found.\n"


def test_dags_list_mentions_import_errors_on_stderr(
    invoke: Invoke, tiny_dag: Path, dags_folder: Path, write_dag: WriteDag
) -> None:
    write_dag("broken.py", BROKEN)

    result = invoke("dags", "list", "-o", "json")

    assert result.exit_code == 0
    assert [d["dag_id"] for d in json.loads(result.stdout)] == ["tiny"]
    # The hint repeats --dags-folder, so that the command it gives lists these errors.
    assert result.stderr.strip() == (
        f"1 import error; see `sluice dags list-import-errors --dags-folder {dags_folder}`"
    )


def test_import_error_hint_without_dags_folder(
    invoke: Invoke, dags_folder: Path, write_dag: WriteDag
) -> None:
    write_dag("broken.py", BROKEN)

    result = invoke(
        "dags", "list", folder=False, env={"SLUICE__CORE__DAGS_FOLDER": str(dags_folder)}
    )

    assert result.stderr.strip() == "1 import error; see `sluice dags list-import-errors`"


def test_list_import_errors(invoke: Invoke, write_dag: WriteDag) -> None:
    broken = write_dag("broken.py", BROKEN)

    table = invoke("dags", "list-import-errors")
    as_json = invoke("dags", "list-import-errors", "-o", "json")

    assert table.exit_code == 0
    # Brackets in a message are text, not Rich markup.
    assert "RuntimeError: database [prod] is unreachable" in table.stdout
    [error] = json.loads(as_json.stdout)
    assert error["file"] == str(broken)
    assert error["line"] == 4
    assert error["message"].endswith("RuntimeError: database [prod] is unreachable")
    assert 'raise RuntimeError("database [prod] is unreachable")' in error["traceback"]


def test_list_import_errors_when_there_are_none(invoke: Invoke, tiny_dag: Path) -> None:
    assert invoke("dags", "list-import-errors").stdout == "No import errors.\n"
    assert json.loads(invoke("dags", "list-import-errors", "-o", "json").stdout) == []


def test_user_given_dags_folder_must_exist(invoke: Invoke, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    result = invoke("dags", "list", "--dags-folder", str(missing), folder=False)

    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: DAGs folder not found: {missing}"


def test_default_dags_folder_starts_empty(invoke: Invoke, home: Path) -> None:
    result = invoke("dags", "list", "-o", "json", folder=False)

    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    assert (home / "dags").is_dir()


def test_default_dags_folder_from_sluice_home(invoke: Invoke, home: Path) -> None:
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "mine.py").write_text(
        "from sluice import DAG\nwith DAG('mine', schedule=None):\n    pass\n"
    )

    result = invoke("dags", "list", "-o", "plain", folder=False)

    assert result.stdout.startswith("mine\t")


def test_unknown_dag_id_suggests_close_ones(invoke: Invoke, tiny_dag: Path) -> None:
    result = invoke("dags", "show", "tinny")

    assert result.exit_code == 1
    assert result.stderr == "Error: DAG 'tinny' not found. Did you mean: 'tiny'?\n"


def test_dags_show_tree(invoke: Invoke, write_dag: WriteDag) -> None:
    write_dag("diamond.py", DIAMOND)

    result = invoke("dags", "show", "diamond")

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "start <EmptyOperator>",
        "├── middle.inner.right <EmptyOperator, group middle.inner>",
        "│   └── end <EmptyOperator>",
        "└── middle.left <EmptyOperator, group middle>",
        "    └── end <EmptyOperator> (see above)",
    ]


def test_dags_show_dot(invoke: Invoke, write_dag: WriteDag) -> None:
    write_dag("diamond.py", DIAMOND)

    result = invoke("dags", "show", "diamond", "--dot")

    assert result.exit_code == 0
    dot = result.stdout
    assert dot.startswith('digraph "diamond" {')
    assert dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    assert 'subgraph "cluster_middle" {' in dot
    assert 'subgraph "cluster_middle.inner" {' in dot
    # The inner cluster sits inside the outer one.
    assert dot.index('"cluster_middle" {') < dot.index('"cluster_middle.inner"')
    assert '"middle.inner.right" [label="right"' in dot
    edges = re.findall(r'^\s*("[^"]+") -> ("[^"]+");$', dot, re.MULTILINE)
    assert sorted(edges) == sorted(
        [
            ('"start"', '"middle.left"'),
            ('"start"', '"middle.inner.right"'),
            ('"middle.left"', '"end"'),
            ('"middle.inner.right"', '"end"'),
        ]
    )


def test_dags_details_json(invoke: Invoke, write_dag: WriteDag) -> None:
    path = write_dag("diamond.py", DIAMOND)

    result = invoke("dags", "details", "diamond", "-o", "json")

    assert result.exit_code == 0
    details = json.loads(result.stdout)
    assert details["dag_id"] == "diamond"
    assert details["fileloc"] == str(path)
    assert details["schedule"] == "0 2 * * *"
    assert details["timetable_description"] == "At 02:00"
    assert details["start_date"] == "2024-01-01T00:00:00+00:00"
    assert details["end_date"] is None
    assert details["catchup"] is False
    assert details["max_active_runs"] == 16
    assert details["tags"] == ["a", "b"]
    assert details["params"]["limit"]["default"] == 10
    assert details["default_args"] == {"retries": 2}
    assert details["doc_md"] == "Four tasks in a diamond."
    assert details["task_count"] == 4


def test_dags_details_and_list_json_give_null_for_schedule_none(
    invoke: Invoke, write_dag: WriteDag
) -> None:
    write_dag("manual.py", 'from sluice import DAG\nDAG("manual", schedule=None)\n')

    details = invoke("dags", "details", "manual", "-o", "json")
    listed = invoke("dags", "list", "-o", "json")
    table = invoke("dags", "details", "manual")

    assert json.loads(details.stdout)["schedule"] is None
    assert json.loads(details.stdout)["timetable"] == "NullTimetable"
    assert json.loads(listed.stdout)[0]["schedule"] is None
    assert "None" in table.stdout  # people read the schedule as written


def test_list_import_errors_of_a_single_file_shows_its_absolute_path(
    invoke: Invoke, tmp_path: Path
) -> None:
    single = tmp_path / "kw_dag.py"
    single.write_text('from sluice import DAG\nraise RuntimeError("no")\n')

    result = invoke("dags", "list-import-errors", "-o", "json", "-S", str(single), folder=False)

    [error] = json.loads(result.stdout)
    assert error["file"] == str(single)
    assert error["message"] == f"{single}:2: RuntimeError: no"


def test_import_warnings_are_printed_in_yellow_on_stderr(
    home: Path, dags_folder: Path, write_dag: WriteDag
) -> None:
    write_dag(
        "old.py",
        """
        from datetime import datetime
        from sluice import DAG

        DAG("old", schedule_interval="@daily", start_date=datetime(2024, 1, 1))
        """,
    )
    env = {"SLUICE_HOME": str(home), "SLUICE__CORE__LOAD_EXAMPLES": "false"}
    args = ["--dags-folder", str(dags_folder)]
    warning = (
        "dags/old.py:5: DeprecationWarning: DAG 'old': schedule_interval is deprecated;"
        " use schedule"
    )

    for command in (["dags", "list", "-o", "json"], ["dags", "details", "old"]):
        result = CliRunner().invoke(cli, [*command, *args], env=env, color=True)
        assert result.exit_code == 0
        assert result.stderr == f"\x1b[33m{warning}\x1b[0m\n"
    # Without colour (a pipe), the same line.
    plain = CliRunner().invoke(cli, ["dags", "test", "old", *args], env=env)
    assert plain.stderr.startswith(f"{warning}\n")


def test_dags_details_table(invoke: Invoke, write_dag: WriteDag) -> None:
    write_dag("diamond.py", DIAMOND)

    result = invoke("dags", "details", "diamond")

    assert result.exit_code == 0
    assert "timetable_description" in result.stdout
    assert "limit=10" in result.stdout
