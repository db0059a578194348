"""Sluice's settings: defaults, then sluice.toml, then SLUICE__SECTION__KEY env vars, then the CLI.

Nothing here runs at import time: an entry point calls `load_settings()` once and passes the
frozen `Settings` down to the code that needs them.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from sluice.config.options import (
    HOME_PLACEHOLDER,
    MASK,
    OPTIONS,
    SECTIONS,
    Kind,
    Option,
    default_config_text,
    find_option,
)
from sluice.config.values import ConfigValue, convert
from sluice.core.errors import ConfigError

_T = TypeVar("_T")

CONFIG_FILE_NAME = "sluice.toml"
ENV_PREFIX = "SLUICE__"


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
        option = find_option(section, key)
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
        find_option(section, key)
        return self.values[(section, key)]

    def _typed(self, section: str, key: str, expected: type[_T]) -> _T:
        value = self.get(section, key)
        # bool is an int subclass; an int setting read as a bool is a caller's bug, not a value.
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            kind = find_option(section, key).kind
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
        (o.section, o.key): Setting(convert(o, o.default, home, "default"), "default")
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
                f" such as [core]; sections are {', '.join(SECTIONS)}"
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
    return Setting(convert(find_option(section, key, where), raw, home, where), source)


__all__ = [
    "CONFIG_FILE_NAME",
    "ENV_PREFIX",
    "HOME_PLACEHOLDER",
    "MASK",
    "OPTIONS",
    "ConfigValue",
    "Kind",
    "Option",
    "Setting",
    "Settings",
    "default_config_text",
    "load_settings",
]
