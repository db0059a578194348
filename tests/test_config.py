"""Tests for settings: defaults, sluice.toml, env and CLI overrides, conversion, errors, masking."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from sluice.config import OPTIONS, Settings, default_config_text, load_settings
from sluice.core.errors import ConfigError


def load(home: Path, text: str | None = None, **kwargs: object) -> Settings:
    """Load settings from home with an empty environment, after writing sluice.toml if given."""
    if text is not None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "sluice.toml").write_text(text)
    env = kwargs.pop("env", {})
    return load_settings(home=home, env=env, **kwargs)  # type: ignore[arg-type]


def test_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path)

    assert settings.home == tmp_path
    assert settings.dags_folder == tmp_path / "dags"
    assert settings.load_examples is True
    assert settings.dagbag_import_timeout == 30.0
    assert settings.default_timezone == "UTC"
    assert settings.base_log_folder == tmp_path / "logs"
    assert settings.create_cron_data_intervals is True
    assert settings.catchup_by_default is False
    assert settings.get("core", "parallelism") == 32
    assert settings.get("core", "max_active_tasks_per_dag") == 16
    assert settings.get("core", "max_active_runs_per_dag") == 16
    assert settings.get("core", "dags_are_paused_at_creation") is True
    assert settings.get("core", "fernet_key") == ""
    assert settings.get("logging", "level") == "INFO"
    assert settings.get("scheduler", "catchup_confirm_threshold") == 50
    assert settings.get("database", "sql_alchemy_conn") == f"sqlite:///{tmp_path}/sluice.db"
    assert settings.get("webserver", "base_url") == "http://localhost:8080"
    assert settings.get("webserver", "secret_key") == ""
    assert {source for *_, source in settings.items()} == {"default"}


def test_items_lists_every_option_once(tmp_path: Path) -> None:
    keys = [(section, key) for section, key, _, _ in load(tmp_path).items()]

    assert keys == [(o.section, o.key) for o in OPTIONS]
    assert len(set(keys)) == len(keys)


def test_first_use_creates_documented_file_and_folders(tmp_path: Path) -> None:
    home = tmp_path / "home"

    settings = load(home)

    text = (home / "sluice.toml").read_text()
    assert settings.config_file == home / "sluice.toml"
    assert (home / "dags").is_dir()
    assert (home / "logs").is_dir()
    for option in OPTIONS:
        assert f"[{option.section}]" in text
        assert f"# {option.key} = " in text
    assert "# Folder scanned, recursively, for DAG files." in text
    assert all(len(line) <= 100 for line in text.splitlines())


def test_generated_file_uncommented_gives_the_defaults(tmp_path: Path) -> None:
    # Uncommenting every key must yield valid TOML holding exactly the defaults.
    uncommented = re.sub(r"^# (\w+ = )", r"\1", default_config_text(), flags=re.MULTILINE)
    document = tomllib.loads(uncommented)

    assert {(s, k): v for s, table in document.items() for k, v in table.items()} == {
        (o.section, o.key): o.default for o in OPTIONS
    }
    settings = load(tmp_path, uncommented)
    assert settings.dags_folder == tmp_path / "dags"
    assert settings.source("core", "dags_folder") == f"file {tmp_path / 'sluice.toml'}"


def test_existing_file_is_not_overwritten(tmp_path: Path) -> None:
    load(tmp_path, "[core]\nparallelism = 4\n")

    assert (tmp_path / "sluice.toml").read_text() == "[core]\nparallelism = 4\n"


def test_create_false_touches_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"

    settings = load(home, create=False)

    assert not home.exists()
    assert settings.dags_folder == home / "dags"


@pytest.mark.parametrize("zone", ["UTC", "utc", "Europe/Paris", "America/Argentina/Buenos_Aires"])
def test_default_timezone_accepts_iana_names(tmp_path: Path, zone: str) -> None:
    settings = load(tmp_path, env={"SLUICE__CORE__DEFAULT_TIMEZONE": zone})

    assert settings.default_timezone == zone


def test_home_that_cannot_be_created_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")

    with pytest.raises(ConfigError) as caught:
        load(blocker / "home")

    assert str(caught.value) == f"Cannot create {blocker / 'home'} (SLUICE_HOME): Not a directory"


def test_default_folder_that_cannot_be_created_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("a file where the logs folder goes")
    (tmp_path / "sluice.toml").write_text("")

    with pytest.raises(ConfigError) as caught:
        load(tmp_path)

    assert str(caught.value) == (
        f"Cannot create {tmp_path / 'logs'} ([logging] base_log_folder): File exists"
    )


def test_user_chosen_folders_are_not_created(tmp_path: Path) -> None:
    # A mistyped folder must show up as "not found", not as a new empty folder.
    load(tmp_path, overrides={("core", "dags_folder"): tmp_path / "typo"})

    assert not (tmp_path / "typo").exists()
    assert (tmp_path / "logs").is_dir()


def test_home_from_env_and_user_expansion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))

    from_env = load_settings(env={"SLUICE_HOME": "~/custom"}, create=False)
    default = load_settings(env={}, create=False)
    empty = load_settings(env={"SLUICE_HOME": ""}, create=False)

    assert from_env.home == tmp_path / "custom"
    assert default.home == tmp_path / "sluice"
    assert empty.home == tmp_path / "sluice"


def test_file_values_override_defaults(tmp_path: Path) -> None:
    config_file = tmp_path / "sluice.toml"
    settings = load(
        tmp_path,
        "[core]\nparallelism = 8\nload_examples = false\ndagbag_import_timeout = 5\n"
        '[logging]\nlevel = "debug"\n',
    )

    assert settings.get("core", "parallelism") == 8
    assert settings.load_examples is False
    assert settings.dagbag_import_timeout == 5.0
    assert isinstance(settings.dagbag_import_timeout, float)
    assert settings.get("logging", "level") == "DEBUG"
    assert settings.source("core", "parallelism") == f"file {config_file}"
    assert settings.source("core", "max_active_tasks_per_dag") == "default"


def test_env_overrides_file(tmp_path: Path) -> None:
    env = {"SLUICE__CORE__PARALLELISM": "12", "PATH": "/bin", "SLUICE_HOME": "/ignored"}

    settings = load(tmp_path, "[core]\nparallelism = 8\n", env=env)

    assert settings.get("core", "parallelism") == 12
    assert settings.source("core", "parallelism") == "env SLUICE__CORE__PARALLELISM"


def test_cli_overrides_env_and_file(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        '[core]\ndags_folder = "/from/file"\n',
        env={"SLUICE__CORE__DAGS_FOLDER": "/from/env"},
        overrides={("core", "dags_folder"): "/from/cli", ("core", "load_examples"): None},
    )

    assert settings.dags_folder == Path("/from/cli")
    assert settings.source("core", "dags_folder") == "cli"
    # None means the flag was not given.
    assert settings.source("core", "load_examples") == "default"


def test_cli_accepts_typed_values(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        overrides={
            ("core", "load_examples"): False,
            ("core", "parallelism"): 3,
            ("core", "dagbag_import_timeout"): 2,
            ("core", "dags_folder"): tmp_path / "d",
        },
    )

    assert settings.load_examples is False
    assert settings.get("core", "parallelism") == 3
    assert settings.dagbag_import_timeout == 2.0
    assert settings.dags_folder == tmp_path / "d"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        (" Yes ", True),
        ("false", False),
        ("0", False),
        ("no", False),
    ],
)
def test_bool_conversion(tmp_path: Path, text: str, expected: bool) -> None:
    settings = load(tmp_path, env={"SLUICE__SCHEDULER__CATCHUP_BY_DEFAULT": text})

    assert settings.catchup_by_default is expected


def test_number_and_string_conversion(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        env={
            "SLUICE__CORE__PARALLELISM": " 64 ",
            "SLUICE__CORE__DAGBAG_IMPORT_TIMEOUT": "2.5",
            "SLUICE__CORE__DEFAULT_TIMEZONE": "Europe/Paris",
            "SLUICE__SCHEDULER__CATCHUP_CONFIRM_THRESHOLD": "0",
        },
    )

    assert settings.get_int("core", "parallelism") == 64
    assert settings.get_float("core", "dagbag_import_timeout") == 2.5
    assert settings.default_timezone == "Europe/Paris"
    assert settings.get_int("scheduler", "catchup_confirm_threshold") == 0


def test_typed_getter_of_the_wrong_type_is_a_bug(tmp_path: Path) -> None:
    settings = load(tmp_path)

    with pytest.raises(TypeError, match=r"\[core\] parallelism is an integer, not bool"):
        settings.get_bool("core", "parallelism")


def test_home_placeholder_and_user_expansion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    settings = load(
        tmp_path / "home",
        '[core]\ndags_folder = "{SLUICE_HOME}/pipelines"\n'
        '[logging]\nbase_log_folder = "~/logs"\n'
        '[database]\nsql_alchemy_conn = "sqlite:///{SLUICE_HOME}/other.db"\n',
        create=False,
    )

    assert settings.dags_folder == tmp_path / "home" / "pipelines"
    assert settings.base_log_folder == tmp_path / "user" / "logs"
    assert settings.get("database", "sql_alchemy_conn") == f"sqlite:///{tmp_path}/home/other.db"


@pytest.mark.parametrize(
    ("env_var", "value", "message"),
    [
        ("SLUICE__CORE__PARALLELISM", "lots", "expected an integer"),
        ("SLUICE__CORE__PARALLELISM", "2.5", "expected an integer"),
        ("SLUICE__CORE__PARALLELISM", "0", "expected at least 1"),
        ("SLUICE__CORE__LOAD_EXAMPLES", "maybe", "expected a boolean"),
        ("SLUICE__CORE__DAGBAG_IMPORT_TIMEOUT", "soon", "expected a number"),
        ("SLUICE__CORE__DAGBAG_IMPORT_TIMEOUT", "nan", "expected a number"),
        ("SLUICE__CORE__DAGBAG_IMPORT_TIMEOUT", "-1", "expected at least 0"),
        ("SLUICE__LOGGING__LEVEL", "LOUD", "expected one of DEBUG, INFO, WARNING"),
        ("SLUICE__CORE__DAGS_FOLDER", " ", "expected a path"),
        ("SLUICE__CORE__DEFAULT_TIMEZONE", "Mars/Olympus", "expected an IANA timezone name"),
        ("SLUICE__CORE__DEFAULT_TIMEZONE", "../etc", "expected an IANA timezone name"),
    ],
)
def test_bad_env_value_names_key_value_and_variable(
    tmp_path: Path, env_var: str, value: str, message: str
) -> None:
    _, section, key = env_var.lower().split("__")

    with pytest.raises(ConfigError) as caught:
        load(tmp_path, env={env_var: value})

    assert str(caught.value).startswith(
        f"Invalid value {value!r} for [{section}] {key} in env {env_var}: {message}"
    )


@pytest.mark.parametrize(
    ("line", "shown", "message"),
    [
        ('parallelism = "many"', "'many'", "expected an integer"),
        ("parallelism = true", "True", "expected an integer"),
        ("parallelism = 1.5", "1.5", "expected an integer"),
        ("load_examples = 2", "2", "expected a boolean (true/false/1/0/yes/no)"),
        ("default_timezone = 3", "3", "expected a string"),
        ("dags_folder = [1]", "[1]", "expected a path"),
    ],
)
def test_bad_file_value_names_key_value_and_file(
    tmp_path: Path, line: str, shown: str, message: str
) -> None:
    key = line.split(" ")[0]

    with pytest.raises(ConfigError) as caught:
        load(tmp_path, f"[core]\n{line}\n")

    assert str(caught.value) == (
        f"Invalid value {shown} for [core] {key} in {tmp_path / 'sluice.toml'}: {message}"
    )


def test_bad_cli_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, overrides={("core", "parallelism"): "x"})

    assert str(caught.value) == (
        "Invalid value 'x' for [core] parallelism on the command line: expected an integer"
    )


def test_unknown_key_in_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "[core]\nparalelism = 4\n")

    assert str(caught.value) == (
        "Unknown config key [core] paralelism (did you mean 'parallelism'?)"
        f" in {tmp_path / 'sluice.toml'}"
    )


def test_unknown_section_in_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Unknown config section \[kore\] \(did you mean 'core'"):
        load(tmp_path, "[kore]\nparallelism = 4\n")


def test_key_outside_a_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'parallelism' in .*sluice.toml must be inside a"):
        load(tmp_path, "parallelism = 4\n")


def test_unknown_key_in_env(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, env={"SLUICE__CORE__NO_SUCH_KEY": "1"})

    message = str(caught.value)
    assert message.startswith("Unknown config key [core] no_such_key (keys of [core] are ")
    assert message.endswith(" in env SLUICE__CORE__NO_SUCH_KEY")


def test_malformed_env_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Env var SLUICE__CORE does not name a setting"):
        load(tmp_path, env={"SLUICE__CORE": "1"})


def test_unknown_cli_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Unknown config key \[core\] nope .* on the command"):
        load(tmp_path, overrides={("core", "nope"): "1"})


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "[core]\nparallelism = = 4\n")

    message = str(caught.value)
    assert message.startswith(f"Invalid TOML in {tmp_path / 'sluice.toml'}: ")
    assert "line 2" in message


def test_secrets_are_masked_when_displayed(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        env={
            "SLUICE__CORE__FERNET_KEY": "s3cr3t-fernet",
            "SLUICE__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg://sluice:p@ss:w0rd@db:5432/x",
            "SLUICE__WEBSERVER__BASE_URL": "https://sluice.example.com",
        },
    )

    assert settings.display_value("core", "fernet_key") == "***"
    assert settings.display_value("webserver", "secret_key") == ""  # unset is not a secret
    assert (
        settings.display_value("database", "sql_alchemy_conn")
        == "postgresql+psycopg://sluice:***@db:5432/x"
    )
    assert settings.display_value("webserver", "base_url") == "https://sluice.example.com"
    assert settings.display_value("core", "parallelism") == "32"
    # The raw value stays available to the code that needs it, and repr never shows it.
    assert settings.get("core", "fernet_key") == "s3cr3t-fernet"
    assert "s3cr3t" not in repr(settings)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:////tmp/sluice.db", "sqlite:////tmp/sluice.db"),
        ("mysql+pymysql://user@db/sluice", "mysql+pymysql://user@db/sluice"),
        ("postgresql://u:pw@db/x", "postgresql://u:***@db/x"),
        ("postgresql://db/x?user=u&password=pw&sslmode=require",
         "postgresql://db/x?user=u&password=***&sslmode=require"),
    ],
)  # fmt: skip
def test_connection_url_password_masking(tmp_path: Path, url: str, shown: str) -> None:
    settings = load(tmp_path, overrides={("database", "sql_alchemy_conn"): url})

    assert settings.display_value("database", "sql_alchemy_conn") == shown


def test_get_unknown_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Unknown config key \[core\] nope"):
        load(tmp_path).get("core", "nope")


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load(tmp_path)

    with pytest.raises(AttributeError):
        settings.home = tmp_path  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.values[("core", "parallelism")] = None  # type: ignore[index]
