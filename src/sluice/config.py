"""Sluice's settings: defaults, then sluice.toml, then SLUICE__SECTION__KEY env vars, then the CLI.

Nothing here runs at import time: an entry point calls `load_settings()` once and passes the
frozen `Settings` down to the code that needs them.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import os
import re
import tempfile
import textwrap
import tomllib
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from sluice.core.errors import ConfigError

ConfigValue = bool | int | float | str | Path
_T = TypeVar("_T")

CONFIG_FILE_NAME = "sluice.toml"
ENV_PREFIX = "SLUICE__"
HOME_PLACEHOLDER = "{SLUICE_HOME}"
MASK = "***"


class Kind(StrEnum):
    """The type a setting's value is converted to."""

    BOOL = "a boolean (true/false/1/0/yes/no)"
    INT = "an integer"
    FLOAT = "a number"
    STR = "a string"
    PATH = "a path"


def _mask_all(value: str) -> str:
    # An empty secret stays visible: "not set" is useful to see and reveals nothing.
    return MASK if value else ""


# The password runs from the ':' after the user name to the '@' before the host. Matching up to
# the last '@' hides a password holding an unescaped '@' too; hiding too much is harmless.
_URL_PASSWORD = re.compile(r"^(?P<head>[\w+.-]+://[^:/@]*:).*(?=@)")
# Drivers such as psycopg also take the password as a query parameter.
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)[^&]*", re.IGNORECASE)


def _mask_url_password(value: str) -> str:
    value = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, value, count=1)
    return _QUERY_PASSWORD.sub(lambda m: m["head"] + MASK, value)


@dataclass(frozen=True)
class Option:
    """One setting: where it lives, its type, its default and what it is for."""

    section: str
    key: str
    kind: Kind
    default: bool | int | float | str
    doc: str
    minimum: float | None = None
    choices: tuple[str, ...] = ()
    mask: Callable[[str], str] | None = None
    check: Callable[[str], None] | None = None  # raises _BadValue for a bad str value


# The one table of settings. Add a key here and it is read, typed, documented in the generated
# sluice.toml and listed by `sluice config`; str and path defaults may use {SLUICE_HOME}.
# fmt: off
OPTIONS: tuple[Option, ...] = (
    Option("core", "dags_folder", Kind.PATH, "{SLUICE_HOME}/dags",
           "Folder scanned, recursively, for DAG files."),
    Option("core", "load_examples", Kind.BOOL, True,
           "Load the example DAGs shipped with Sluice."),
    Option("core", "dagbag_import_timeout", Kind.FLOAT, 30.0,
           "Seconds a DAG file may take to import before it is reported as an import error.",
           minimum=0.0),
    Option("core", "default_timezone", Kind.STR, "UTC",
           "Timezone in which naive datetimes are read: a DAG's start_date and end_date, and"
           ' dates given on the command line (an IANA name such as "Europe/Paris").',
           check=lambda name: _check_timezone(name)),
    Option("core", "parallelism", Kind.INT, 32,
           "Most task instances running at once per scheduler, across all DAGs.", minimum=1),
    Option("core", "max_active_tasks_per_dag", Kind.INT, 16,
           "Default max_active_tasks of a DAG: its task instances running at once.", minimum=1),
    Option("core", "max_active_runs_per_dag", Kind.INT, 16,
           "Default max_active_runs of a DAG: its DAG runs running at once.", minimum=1),
    Option("core", "dags_are_paused_at_creation", Kind.BOOL, True,
           "New DAGs start paused until someone unpauses them."),
    Option("core", "fernet_key", Kind.STR, "",
           "Fernet key that encrypts connection passwords and secret variables at rest.",
           mask=_mask_all),
    Option("logging", "base_log_folder", Kind.PATH, "{SLUICE_HOME}/logs",
           "Folder where task logs are written, one file per task try."),
    Option("logging", "level", Kind.STR, "INFO",
           "Level of Sluice's own log messages.",
           choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
    Option("scheduler", "create_cron_data_intervals", Kind.BOOL, True,
           "true: a cron schedule's run covers the interval between two ticks (Airflow 2);"
           " false: it covers the tick instant only (Airflow 3's CronTriggerTimetable)."),
    Option("scheduler", "catchup_by_default", Kind.BOOL, False,
           "Catchup of DAGs that do not set it: false creates only the latest missed run."),
    Option("scheduler", "catchup_confirm_threshold", Kind.INT, 50,
           "Ask for confirmation before catchup or a backfill creates more runs than this.",
           minimum=0),
    Option("database", "sql_alchemy_conn", Kind.STR, "sqlite:///{SLUICE_HOME}/sluice.db",
           "SQLAlchemy URL of the metadata database (PostgreSQL or MySQL in production).",
           mask=_mask_url_password),
    Option("webserver", "base_url", Kind.STR, "http://localhost:8080",
           "URL where users reach the web UI; links in alerts point there."),
    Option("webserver", "secret_key", Kind.STR, "",
           "Key that signs web sessions; use the same random value on every web server.",
           mask=_mask_all),
)
# fmt: on

_BY_KEY: Mapping[tuple[str, str], Option] = MappingProxyType(
    {(o.section, o.key): o for o in OPTIONS}
)
_SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(o.section for o in OPTIONS))


@dataclass(frozen=True)
class Setting:
    """A resolved setting's value and where it came from."""

    value: ConfigValue
    source: str


@dataclass(frozen=True)
class Settings:
    """The settings of one Sluice installation, typed and frozen."""

    home: Path
    # Kept out of repr so that a logged Settings never prints a secret.
    values: Mapping[tuple[str, str], Setting] = field(repr=False, hash=False)

    @property
    def config_file(self) -> Path:
        """The sluice.toml this installation reads."""
        return self.home / CONFIG_FILE_NAME

    def get(self, section: str, key: str) -> ConfigValue:
        """Return the typed value of [section] key."""
        return self._setting(section, key).value

    def source(self, section: str, key: str) -> str:
        """Return where [section] key came from: default, file <path>, env <VAR> or cli."""
        return self._setting(section, key).source

    def get_bool(self, section: str, key: str) -> bool:
        """Return [section] key, a boolean setting."""
        return self._typed(section, key, bool)

    def get_int(self, section: str, key: str) -> int:
        """Return [section] key, an integer setting."""
        return self._typed(section, key, int)

    def get_float(self, section: str, key: str) -> float:
        """Return [section] key, a number setting."""
        return self._typed(section, key, float)

    def get_str(self, section: str, key: str) -> str:
        """Return [section] key, a string setting."""
        return self._typed(section, key, str)

    def get_path(self, section: str, key: str) -> Path:
        """Return [section] key, a path setting."""
        return self._typed(section, key, Path)

    def items(self) -> Iterator[tuple[str, str, ConfigValue, str]]:
        """Yield (section, key, value, source) for every setting, in table order."""
        for option in OPTIONS:
            setting = self._setting(option.section, option.key)
            yield option.section, option.key, setting.value, setting.source

    def display_value(self, section: str, key: str) -> str:
        """Return [section] key as text for listings, with secrets shown as ***."""
        option = _option(section, key)
        text = str(self.get(section, key))
        return option.mask(text) if option.mask else text

    @property
    def dags_folder(self) -> Path:
        """Folder scanned for DAG files."""
        return self.get_path("core", "dags_folder")

    @property
    def load_examples(self) -> bool:
        """Whether the example DAGs are loaded."""
        return self.get_bool("core", "load_examples")

    @property
    def dagbag_import_timeout(self) -> float:
        """Seconds a DAG file may take to import."""
        return self.get_float("core", "dagbag_import_timeout")

    @property
    def default_timezone(self) -> str:
        """Timezone of DAGs whose start_date has none."""
        return self.get_str("core", "default_timezone")

    @property
    def base_log_folder(self) -> Path:
        """Folder where task logs are written."""
        return self.get_path("logging", "base_log_folder")

    @property
    def create_cron_data_intervals(self) -> bool:
        """Whether cron schedules make data intervals between ticks."""
        return self.get_bool("scheduler", "create_cron_data_intervals")

    @property
    def catchup_by_default(self) -> bool:
        """Catchup of DAGs that do not set it."""
        return self.get_bool("scheduler", "catchup_by_default")

    def _setting(self, section: str, key: str) -> Setting:
        _option(section, key)
        return self.values[(section, key)]

    def _typed(self, section: str, key: str, expected: type[_T]) -> _T:
        value = self.get(section, key)
        # bool is an int subclass; an int setting read as a bool is a caller's bug, not a value.
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            kind = _option(section, key).kind
            raise TypeError(f"[{section}] {key} is {kind.value}, not {expected.__name__}")
        return value


def load_settings(
    *,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[tuple[str, str], object] | None = None,
    create: bool = True,
) -> Settings:
    """Build the settings from defaults, sluice.toml, SLUICE__* env vars and CLI overrides.

    Args:
        home: SLUICE_HOME; defaults to env SLUICE_HOME, else ~/sluice.
        env: the environment to read; defaults to os.environ.
        overrides: values given on the command line; a None value means "not given".
        create: write a documented sluice.toml and make the default DAGs and logs folders
            when they are missing.
    """
    env = os.environ if env is None else env
    home = _resolve_home(home, env)
    config_file = home / CONFIG_FILE_NAME
    if create:
        _write_default_file(config_file)

    values = {
        (o.section, o.key): Setting(_convert(o, o.default, home, "default"), "default")
        for o in OPTIONS
    }
    for (section, key), raw, where, source in _file_entries(config_file):
        values[(section, key)] = _resolve(section, key, raw, home, where, source)
    for (section, key), raw, where, source in _env_entries(env):
        values[(section, key)] = _resolve(section, key, raw, home, where, source)
    for (section, key), raw in (overrides or {}).items():
        if raw is not None:
            values[(section, key)] = _resolve(section, key, raw, home, "on the command line", "cli")

    settings = Settings(home=home, values=MappingProxyType(values))
    if create:
        _make_default_folders(settings)
    return settings


def default_config_text() -> str:
    """Return the documented sluice.toml written on first use, every key commented out."""
    lines = [
        "# Sluice settings. Each key shows its default; uncomment a line to change it.",
        "# {SLUICE_HOME} stands for this file's folder; ~ is your home directory.",
        "# Env vars SLUICE__<SECTION>__<KEY> override this file; command-line flags override both.",
    ]
    for section in _SECTIONS:
        lines += ["", f"[{section}]"]
        for option in (o for o in OPTIONS if o.section == section):
            lines += [f"# {line}" for line in textwrap.wrap(option.doc, width=88)]
            if option.choices:
                lines.append(f"# One of: {', '.join(option.choices)}.")
            lines.append(f"# {option.key} = {_toml_literal(option.default)}")
    return "\n".join(lines) + "\n"


def _resolve_home(home: Path | None, env: Mapping[str, str]) -> Path:
    if home is None:
        # An empty SLUICE_HOME is treated as unset rather than as the current directory.
        home = Path(env.get("SLUICE_HOME") or "~/sluice")
    # Absolute, because task subprocesses may run from another working directory.
    return home.expanduser().absolute()


def _write_default_file(config_file: Path) -> None:
    if config_file.exists():
        return
    _make_folder(config_file.parent, "SLUICE_HOME")
    # Write then rename, so that a process starting alongside never reads half a file.
    try:
        fd, tmp = tempfile.mkstemp(dir=config_file.parent, prefix=".sluice-", suffix=".toml")
    except OSError as exc:
        raise ConfigError(f"Cannot write the config file {config_file}: {_os_reason(exc)}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(default_config_text())
        os.replace(tmp, config_file)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"Cannot write the config file {config_file}: {_os_reason(exc)}") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _make_default_folders(settings: Settings) -> None:
    # Only folders left at their default are made: a folder the user named but mistyped must
    # show up as "not found", not as a new empty folder with no DAGs in it.
    for section, key in (("core", "dags_folder"), ("logging", "base_log_folder")):
        if settings.source(section, key) == "default":
            _make_folder(settings.get_path(section, key), f"[{section}] {key}")


def _make_folder(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"Cannot create {folder} ({what}): {_os_reason(exc)}") from exc


def _os_reason(exc: OSError) -> str:
    """``Not a directory`` rather than ``[Errno 20] Not a directory: '/dev/null/x'``."""
    return exc.strerror or str(exc)


_Entry = tuple[tuple[str, str], object, str, str]


def _file_entries(config_file: Path) -> Iterator[_Entry]:
    try:
        with config_file.open("rb") as fp:
            document = tomllib.load(fp)
    except FileNotFoundError:
        return
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message ends with "(at line N, column M)".
        raise ConfigError(f"Invalid TOML in {config_file}: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read config file {config_file}: {exc}") from exc

    source = f"file {config_file}"
    for section, table in document.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"Config key {section!r} in {config_file} must be inside a section"
                f" such as [core]; sections are {', '.join(_SECTIONS)}"
            )
        for key, raw in table.items():
            yield (section, key), raw, f"in {config_file}", source


def _env_entries(env: Mapping[str, str]) -> Iterator[_Entry]:
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].split("__")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(
                f"Env var {name} does not name a setting: expected SLUICE__<SECTION>__<KEY>,"
                " for example SLUICE__CORE__DAGS_FOLDER"
            )
        section, key = parts[0].lower(), parts[1].lower()
        yield (section, key), env[name], f"in env {name}", f"env {name}"


def _resolve(section: str, key: str, raw: object, home: Path, where: str, source: str) -> Setting:
    if (section, key) not in _BY_KEY:
        raise ConfigError(f"{_unknown(section, key)} {where}")
    return Setting(_convert(_BY_KEY[(section, key)], raw, home, where), source)


def _option(section: str, key: str) -> Option:
    try:
        return _BY_KEY[(section, key)]
    except KeyError:
        raise ConfigError(_unknown(section, key)) from None


def _unknown(section: str, key: str) -> str:
    if section not in _SECTIONS:
        hint = _did_you_mean(section, _SECTIONS) or f"sections are {', '.join(_SECTIONS)}"
        return f"Unknown config section [{section}] ({hint})"
    keys = [o.key for o in OPTIONS if o.section == section]
    hint = _did_you_mean(key, keys) or f"keys of [{section}] are {', '.join(keys)}"
    return f"Unknown config key [{section}] {key} ({hint})"


def _did_you_mean(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f"did you mean {close[0]!r}?" if close else ""


class _BadValue(ValueError):
    """Raised inside conversion; the caller adds which key and where from."""


def _convert(option: Option, raw: object, home: Path, where: str) -> ConfigValue:
    try:
        value = _CONVERTERS[option.kind](raw, home)
        return _check(option, value)
    except _BadValue as exc:
        raise ConfigError(
            f"Invalid value {raw!r} for [{option.section}] {option.key} {where}: {exc}"
        ) from None


def _check(option: Option, value: ConfigValue) -> ConfigValue:
    if option.choices:
        # Case-insensitive because "info" is what people type; the canonical spelling is kept.
        canonical = {c.lower(): c for c in option.choices}
        if str(value).lower() not in canonical:
            raise _BadValue(f"expected one of {', '.join(option.choices)}")
        return canonical[str(value).lower()]
    if option.minimum is not None and isinstance(value, int | float) and value < option.minimum:
        raise _BadValue(f"expected at least {option.minimum:g}")
    if option.check is not None and isinstance(value, str):
        option.check(value)
    return value


def _check_timezone(name: str) -> None:
    if name.upper() == "UTC":
        return
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _BadValue('expected an IANA timezone name such as "Europe/Paris"') from None


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def _to_bool(raw: object, home: Path) -> bool:
    if isinstance(raw, bool):
        return raw
    # TOML's 1 and 0 mean what the strings "1" and "0" mean in an env var.
    if isinstance(raw, int) and raw in (0, 1):
        return raw == 1
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _TRUE | _FALSE:
            return word in _TRUE
    raise _BadValue(f"expected {Kind.BOOL.value}")


def _to_int(raw: object, home: Path) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            pass
    raise _BadValue(f"expected {Kind.INT.value}")


def _to_float(raw: object, home: Path) -> float:
    value = math.nan
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    elif isinstance(raw, str):
        with contextlib.suppress(ValueError):
            value = float(raw.strip())
    # nan and inf parse as floats but are never a meaningful number of seconds or items.
    if not math.isfinite(value):
        raise _BadValue(f"expected {Kind.FLOAT.value}")
    return value


def _to_str(raw: object, home: Path) -> str:
    if not isinstance(raw, str):
        raise _BadValue(f"expected {Kind.STR.value}")
    # Plain replace, not str.format: a password may contain braces.
    return raw.replace(HOME_PLACEHOLDER, str(home))


def _to_path(raw: object, home: Path) -> Path:
    if isinstance(raw, Path):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip():
        raise _BadValue(f"expected {Kind.PATH.value}")
    return Path(_to_str(raw, home).strip()).expanduser().absolute()


_CONVERTERS: Mapping[Kind, Callable[[object, Path], ConfigValue]] = MappingProxyType(
    {
        Kind.BOOL: _to_bool,
        Kind.INT: _to_int,
        Kind.FLOAT: _to_float,
        Kind.STR: _to_str,
        Kind.PATH: _to_path,
    }
)


def _toml_literal(value: bool | int | float | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string.
        return json.dumps(value)
    return repr(value)
