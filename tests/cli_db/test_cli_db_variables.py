"""``sluice variables`` on the test database."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_db.conftest import Sluice

from sluice.store import variables
from sluice.store.engine import Store


def test_set_get_list_delete(sluice: Sluice, store: Store) -> None:
    assert sluice("variables", "set", "target", "s3://bucket").output == (
        "Variable 'target' created.\n"
    )
    result = sluice("variables", "set", "target", "s3://other", "-d", "Where to write")
    assert result.output == "Variable 'target' changed.\n"
    with store.transaction() as session:
        entry = variables.get_variable(session, "target")
    assert entry is not None and (entry.value, entry.description) == (
        "s3://other",
        "Where to write",
    )
    assert sluice("variables", "get", "target").output == "s3://other\n"

    sluice("variables", "set", "api_token", "abc123")
    listed = sluice("variables", "list", "-o", "json").output
    assert json.loads(listed) == [
        {"key": "api_token", "value": "***", "description": None},
        {"key": "target", "value": "s3://other", "description": "Where to write"},
    ]
    shown = json.loads(sluice("variables", "list", "-o", "json", "--show-values").output)
    assert shown[0]["value"] == "abc123"

    assert sluice("variables", "delete", "target").output == "Variable 'target' deleted.\n"
    again = sluice("variables", "delete", "target")
    assert again.exit_code == 1
    assert "Error: there is no variable 'target' in the metadata database" in again.output


def test_json_values(sluice: Sluice) -> None:
    assert sluice("variables", "set", "cfg", '{"rows": [1, 2]}', "--json").exit_code == 0
    assert json.loads(sluice("variables", "get", "cfg", "-j").output) == {"rows": [1, 2]}
    bad = sluice("variables", "set", "cfg", "{nope", "-j")
    assert bad.exit_code == 1 and "the value of variable 'cfg' is not valid JSON" in bad.output
    assert json.loads(sluice("variables", "get", "cfg", "-j").output) == {"rows": [1, 2]}
    sluice("variables", "set", "text", "plain words")
    wrong = sluice("variables", "get", "text", "-j")
    assert wrong.exit_code == 1 and "variable 'text' is not valid JSON" in wrong.output


def test_get_missing_default_and_environment(sluice: Sluice) -> None:
    missing = sluice("variables", "get", "absent")
    assert missing.exit_code == 1
    assert missing.output == (
        "Error: variable 'absent' is not defined: not in the environment variable"
        " SLUICE_VAR_ABSENT nor in the metadata database\n"
    )
    assert sluice("variables", "get", "absent", "--default", "fb").output == "fb\n"
    env = {"SLUICE_VAR_ABSENT": "from env"}
    assert sluice("variables", "get", "absent", env=env).output == "from env\n"


def test_bad_keys_are_refused(sluice: Sluice) -> None:
    result = sluice("variables", "set", " padded ", "v")
    assert result.exit_code == 1
    assert "variable key ' padded ' starts or ends with whitespace" in result.output
    assert sluice("variables", "list", "-o", "json").output.strip() == "[]"


def test_export_then_import(sluice: Sluice, tmp_path: Path) -> None:
    sluice("variables", "set", "a", "1", "-d", "first")
    sluice("variables", "set", "b", "two")
    path = tmp_path / "vars.json"
    assert sluice("variables", "export", str(path)).exit_code == 0
    assert json.loads(path.read_text()) == {"a": {"value": "1", "description": "first"}, "b": "two"}
    sluice("variables", "delete", "a")
    sluice("variables", "set", "b", "changed")
    result = sluice("variables", "import", str(path))
    assert (
        result.output
        == "Imported 1 new and 1 changed variables (0 skipped) from " + str(path) + ".\n"
    )
    assert sluice("variables", "get", "b").output == "two\n"

    refused = sluice("variables", "import", str(path), "--on-existing", "fail")
    assert refused.exit_code == 1 and "these variables exist already: a, b" in refused.output


def test_bad_import_files_change_nothing(sluice: Sluice, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("[1, 2]")
    result = sluice("variables", "import", str(path))
    assert result.exit_code == 1 and "must hold a JSON object" in result.output
    path.write_text('{"ok": 1, " bad": 2}')
    result = sluice("variables", "import", str(path))
    assert result.exit_code == 1 and "nothing was imported" in result.output
    path.write_text("{")
    assert "is not valid JSON" in sluice("variables", "import", str(path)).output
    missing = sluice("variables", "import", str(tmp_path / "none.json"))
    assert missing.exit_code == 1 and "cannot read" in missing.output
    assert sluice("variables", "list", "-o", "json").output.strip() == "[]"
