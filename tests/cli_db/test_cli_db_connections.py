"""``sluice connections`` on the test database."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.cli_db.conftest import Sluice

from sluice.store import connections
from sluice.store.engine import Store

URI = "postgresql://etl:pa%40ss@db.internal:5432/wh?sslmode=disable"


def test_add_get_list_delete(sluice: Sluice, store: Store) -> None:
    result = sluice("connections", "add", "wh", "--conn-uri", URI, "--conn-description", "DWH")
    assert result.exit_code == 0, result.output
    assert result.output == "Connection 'wh' added (postgres).\n"
    with store.transaction() as session:
        secrets = connections.get_connection_secrets(session, "wh")
    assert secrets is not None and (secrets.password, secrets.port) == ("pa@ss", 5432)

    shown = json.loads(sluice("connections", "get", "wh", "-o", "json").output)
    assert shown["password"] == "***" and shown["description"] == "DWH"
    assert shown["uri"] == "postgres://etl:***@db.internal:5432/wh?sslmode=disable"
    full = json.loads(sluice("connections", "get", "wh", "-o", "json", "--show-password").output)
    assert full["password"] == "pa@ss"
    assert full["uri"] == "postgres://etl:pa%40ss@db.internal:5432/wh?sslmode=disable"

    listed = json.loads(sluice("connections", "list", "-o", "json").output)
    assert [(c["conn_id"], c["host"], c["password_set"]) for c in listed] == [
        ("wh", "db.internal", True)
    ]
    assert "pa@ss" not in sluice("connections", "list").output

    assert sluice("connections", "delete", "wh").output == "Connection 'wh' deleted.\n"
    again = sluice("connections", "delete", "wh")
    assert again.exit_code == 1
    assert "there is no connection 'wh' in the metadata database" in again.output


def test_add_from_fields_and_json(sluice: Sluice) -> None:
    result = sluice(
        "connections", "add", "api", "--conn-type", "http", "--conn-host", "api.example",
        "--conn-port", "8080", "--conn-login", "u", "--conn-password", "p",
        "--conn-extra", '{"timeout": 3}',
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = '{"conn_type": "mysql", "host": "m", "extra": {"charset": "utf8"}}'
    assert sluice("connections", "add", "my", "--conn-json", text).exit_code == 0
    shown = json.loads(sluice("connections", "get", "api", "-o", "json").output)
    assert (shown["port"], shown["extra"]) == (8080, {"timeout": 3})
    assert json.loads(sluice("connections", "get", "my", "-o", "json").output)["extra"] == {
        "charset": "utf8"
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--conn-uri", "no-scheme"], "connection 'c': 'no-scheme' is not a connection URI"),
        (["--conn-uri", "pg://h:port"], "the port of 'pg://h:port' must be a number"),
        (["--conn-json", "{bad"], "connection 'c': not valid JSON"),
        (["--conn-uri", URI, "--conn-json", "{}"], "either --conn-uri or --conn-json, not both"),
        (["--conn-uri", URI, "--conn-host", "h"], "--conn-host cannot go with --conn-uri"),
        (["--conn-host", "h"], "give --conn-uri, --conn-json, or at least --conn-type"),
        (["--conn-type", "x", "--conn-extra", "[1]"], "--conn-extra must be a JSON object"),
        (["--conn-type", "x", "--conn-port", "0"], "port must be a number from 1 to 65535"),
    ],
)
def test_bad_input_changes_nothing(sluice: Sluice, args: list[str], message: str) -> None:
    result = sluice("connections", "add", "c", *args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output
    assert sluice("connections", "list", "-o", "json").output.strip() == "[]"


def test_a_taken_conn_id_is_refused(sluice: Sluice) -> None:
    sluice("connections", "add", "c", "--conn-uri", URI)
    result = sluice("connections", "add", "c", "--conn-type", "http")
    assert result.exit_code == 1 and "connection 'c' already exists" in result.output


def test_get_reads_the_environment_first(sluice: Sluice) -> None:
    env = {"SLUICE_CONN_FROM_ENV": "http://envhost:81"}
    shown = json.loads(sluice("connections", "get", "from_env", "-o", "json", env=env).output)
    assert (shown["conn_type"], shown["host"], shown["port"]) == ("http", "envhost", 81)
    missing = sluice("connections", "get", "nope")
    assert missing.exit_code == 1
    assert "connection 'nope' is not defined: not in the environment variable" in missing.output


def test_export_then_import_round_trips(sluice: Sluice, tmp_path: Path) -> None:
    sluice("connections", "add", "wh", "--conn-uri", URI, "--conn-description", "DWH")
    sluice("connections", "add", "api", "--conn-type", "http", "--conn-extra", '{"a": [1]}')
    path = tmp_path / "conns.json"
    assert sluice("connections", "export", str(path)).exit_code == 0
    assert os.stat(path).st_mode & 0o077 == 0
    exported = json.loads(path.read_text())
    assert exported["wh"]["password"] == "pa@ss" and exported["api"]["extra"] == {"a": [1]}
    env_text = sluice("connections", "export", "-", "--format", "env").output
    assert "wh=postgres://etl:pa%40ss@db.internal:5432/wh?sslmode=disable\n" in env_text

    refused = sluice("connections", "import", str(path))
    assert refused.exit_code == 1
    assert "nothing was imported: these connections exist already: api, wh" in refused.output
    for conn_id in ("wh", "api"):
        sluice("connections", "delete", conn_id)
    result = sluice("connections", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "Imported 2 new and 0 changed connections" in result.output
    full = json.loads(sluice("connections", "get", "wh", "-o", "json", "--show-password").output)
    assert (full["password"], full["description"]) == ("pa@ss", "DWH")
    assert sluice("connections", "import", str(path), "--on-existing", "skip").exit_code == 0


def test_import_checks_every_entry_before_writing(sluice: Sluice, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            [
                {"conn_id": "good", "conn_type": "http"},
                {"conn_id": "bad", "conn_type": "http", "port": "x"},
                {"conn_id": "worse uri", "conn_type": "http"},
            ]
        )
    )
    result = sluice("connections", "import", str(path))
    assert result.exit_code == 1
    assert "nothing was imported" in result.output
    assert "connection 'bad': port must be" in result.output
    assert "'worse uri' may hold only letters" in result.output
    assert sluice("connections", "list", "-o", "json").output.strip() == "[]"
    path.write_text('{"uri_one": "mysql://h/db"}')
    assert sluice("connections", "import", str(path)).exit_code == 0
    not_json = tmp_path / "x.json"
    not_json.write_text("{")
    assert "is not valid JSON" in sluice("connections", "import", str(not_json)).output


def test_test_reports_failure_and_exits_1(sluice: Sluice, tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    sluice("connections", "add", "lite", "--conn-type", "sqlite", "--conn-host", str(missing))
    result = sluice("connections", "test", "lite")
    assert result.exit_code == 1
    assert f"Connection 'lite' failed: no database file at {missing}" in result.output
    (tmp_path / "there.db").write_bytes(b"")
    env = {
        "SLUICE_CONN_LITE2": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "there.db")})
    }
    ok = sluice("connections", "test", "lite2", env=env)
    assert ok.exit_code == 0 and "Connection 'lite2' works" in ok.output
