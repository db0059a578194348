"""``sluice version`` and ``sluice config``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from sluice import __version__

Invoke = Callable[..., Result]


def test_version_command_and_flag(invoke: Invoke) -> None:
    assert invoke("version", folder=False).stdout.strip() == __version__
    result = invoke("--version", folder=False)
    assert result.exit_code == 0
    assert result.stdout.strip() == f"sluice {__version__}"


def test_config_list_shows_values_and_sources(invoke: Invoke, home: Path) -> None:
    result = invoke("config", "list", "-o", "plain", folder=False)

    assert result.exit_code == 0
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    by_key = {(section, key): (value, source) for section, key, value, source in rows}
    assert by_key[("core", "dags_folder")] == (str(home / "dags"), "default")
    assert by_key[("core", "load_examples")] == ("False", "env SLUICE__CORE__LOAD_EXAMPLES")


def test_config_list_json_masks_secrets(invoke: Invoke) -> None:
    env = {
        "SLUICE__WEBSERVER__SECRET_KEY": "s3cret",
        "SLUICE__DATABASE__SQL_ALCHEMY_CONN": "postgresql://user:pw@db/sluice",
    }
    result = invoke("config", "list", "--output", "json", folder=False, env=env)

    assert result.exit_code == 0
    rows = {(r["section"], r["key"]): r for r in json.loads(result.stdout)}
    assert rows[("webserver", "secret_key")]["value"] == "***"
    assert rows[("database", "sql_alchemy_conn")]["value"] == "postgresql://user:***@db/sluice"
    assert "s3cret" not in result.stdout and ":pw@" not in result.stdout


def test_config_list_table(invoke: Invoke) -> None:
    result = invoke("config", "list", folder=False)

    assert result.exit_code == 0
    assert "dagbag_import_timeout" in result.stdout
    assert "default" in result.stdout


def test_config_get_prints_the_value(invoke: Invoke) -> None:
    result = invoke("config", "get", "core", "dagbag_import_timeout", folder=False)

    assert result.exit_code == 0
    assert result.stdout == "30.0\n"


def test_config_get_unknown_key_suggests_the_right_one(invoke: Invoke) -> None:
    result = invoke("config", "get", "core", "dag_folder", folder=False)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "Error: Unknown config key [core] dag_folder (did you mean 'dags_folder'?)"
    )


def test_config_get_unknown_section(invoke: Invoke) -> None:
    result = invoke("config", "get", "cor", "dags_folder", folder=False)

    assert result.exit_code == 1
    assert "Unknown config section [cor] (did you mean 'core'?)" in result.stderr


def test_invalid_env_setting_is_a_clear_error(invoke: Invoke) -> None:
    result = invoke("config", "list", folder=False, env={"SLUICE__CORE__PARALLELISM": "lots"})

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Invalid value 'lots' for [core] parallelism")
    assert "Traceback" not in result.stderr
