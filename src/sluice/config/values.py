"""A setting's raw value, from a file, env var or flag, converted to its type and checked."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from sluice.config.options import HOME_PLACEHOLDER, BadValue, Kind, Option
from sluice.core.errors import ConfigError

ConfigValue = bool | int | float | str | Path


def convert(option: Option, raw: object, home: Path, where: str) -> ConfigValue:
    """The typed, checked value of ``option`` for ``raw``; ConfigError naming ``where`` if bad."""
    try:
        value = _CONVERTERS[option.kind](raw, home)
        return _check(option, value)
    except BadValue as exc:
        raise ConfigError(
            f"Invalid value {raw!r} for [{option.section}] {option.key} {where}: {exc}"
        ) from None


def _check(option: Option, value: ConfigValue) -> ConfigValue:
    if option.choices:
        # Case-insensitive because "info" is what people type; the canonical spelling is kept.
        canonical = {c.lower(): c for c in option.choices}
        if str(value).lower() not in canonical:
            raise BadValue(f"expected one of {', '.join(option.choices)}")
        return canonical[str(value).lower()]
    if option.minimum is not None and isinstance(value, int | float) and value < option.minimum:
        raise BadValue(f"expected at least {option.minimum:g}")
    if option.check is not None and isinstance(value, str):
        option.check(value)
    return value


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
    raise BadValue(f"expected {Kind.BOOL.value}")


def _to_int(raw: object, home: Path) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            pass
    raise BadValue(f"expected {Kind.INT.value}")


def _to_float(raw: object, home: Path) -> float:
    value = math.nan
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    elif isinstance(raw, str):
        with contextlib.suppress(ValueError):
            value = float(raw.strip())
    # nan and inf parse as floats but are never a meaningful number of seconds or items.
    if not math.isfinite(value):
        raise BadValue(f"expected {Kind.FLOAT.value}")
    return value


def _to_str(raw: object, home: Path) -> str:
    if not isinstance(raw, str):
        raise BadValue(f"expected {Kind.STR.value}")
    # Plain replace, not str.format: a password may contain braces.
    return raw.replace(HOME_PLACEHOLDER, str(home))


def _to_path(raw: object, home: Path) -> Path:
    if isinstance(raw, Path):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip():
        raise BadValue(f"expected {Kind.PATH.value}")
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
