"""Param: a typed, validated run argument, as Airflow's ``Param`` (a JSON Schema subset)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import date, datetime
from typing import Any

from sluice.core.errors import ParamValidationError


class _NotSet:
    def __repr__(self) -> str:
        return "NOTSET"


NOTSET: Any = _NotSet()

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
    "null": (type(None),),
}
_SCHEMA_KEYS = {
    "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "pattern", "format", "minItems", "maxItems", "items", "title",
    "examples", "values_display", "section",
}  # fmt: skip


class Param:
    """A DAG or task parameter with a default and JSON-Schema-style constraints."""

    def __init__(
        self, default: Any = NOTSET, description: str | None = None, **schema: Any
    ) -> None:
        unknown = set(schema) - _SCHEMA_KEYS
        if unknown:
            raise ParamValidationError(f"unknown Param option(s): {', '.join(sorted(unknown))}")
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            bad = [t for t in types if t not in _TYPES]
            if bad:
                raise ParamValidationError(
                    f"unknown Param type {bad[0]!r}; expected one of {', '.join(_TYPES)}"
                )
        self.value = default
        self.description = description
        self.schema = schema

    @property
    def has_value(self) -> bool:
        """Whether a default (or a resolved value) is set."""
        return self.value is not NOTSET

    def resolve(self, value: Any = NOTSET, *, name: str = "param") -> Any:
        """Validate ``value`` (or the default when it is NOTSET) and return it."""
        final = self.value if value is NOTSET else value
        if final is NOTSET:
            raise ParamValidationError(f"param '{name}': no value given and it has no default")
        problem = _check(final, self.schema)
        if problem:
            raise ParamValidationError(f"param '{name}': {problem}")
        return final

    def dump(self) -> dict[str, Any]:
        """The Param as plain data (for serialization)."""
        return {
            "default": None if self.value is NOTSET else self.value,
            "has_default": self.value is not NOTSET,
            "description": self.description,
            "schema": self.schema,
        }

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Param:
        """The inverse of :meth:`dump`."""
        default = data["default"] if data.get("has_default", True) else NOTSET
        return cls(default, data.get("description"), **data.get("schema", {}))

    def __repr__(self) -> str:
        return f"Param({self.value!r}, {self.schema!r})"


class ParamsDict(MutableMapping[str, Any]):
    """Params by name; reading an item gives its value, not the Param."""

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        self._params: dict[str, Param] = {}
        for key, value in (params or {}).items():
            self[key] = value

    def __setitem__(self, key: str, value: Any) -> None:
        self._params[key] = value if isinstance(value, Param) else Param(value)

    def __getitem__(self, key: str) -> Any:
        value = self._params[key].value
        return None if value is NOTSET else value

    def __delitem__(self, key: str) -> None:
        del self._params[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def get_param(self, key: str) -> Param:
        """The Param object itself."""
        return self._params[key]

    def as_plain(self) -> dict[str, Param]:
        """A shallow copy of the Params by name."""
        return dict(self._params)

    def copy(self) -> ParamsDict:
        """A deep copy, so that a run's values do not leak into the DAG."""
        return ParamsDict(copy.deepcopy(self._params))

    def validate_defaults(self) -> None:
        """Check every default that is set (what the DAG file declares)."""
        for name, param in self._params.items():
            if param.has_value:
                param.resolve(name=name)

    def resolve(self, conf: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The run's params: defaults overridden by ``conf``, each validated.

        Keys of ``conf`` that are not declared params are kept, as Airflow does.
        """
        conf = dict(conf or {})
        resolved = {
            name: param.resolve(conf.pop(name, NOTSET), name=name)
            for name, param in self._params.items()
        }
        resolved.update(conf)
        return resolved


class DagParam:
    """A ``@dag`` function's argument: the run's value of that param, resolved at run time."""

    def __init__(self, name: str) -> None:
        self.name = name

    def resolve(self, context: Mapping[str, Any]) -> Any:
        """The value of the param in this run."""
        return context["params"][self.name]

    def __str__(self) -> str:
        # In a templated string, an f-string use renders as the param's template.
        return "{{ params." + self.name + " }}"

    def __repr__(self) -> str:
        return f"DagParam({self.name!r})"


def _check(value: Any, schema: Mapping[str, Any]) -> str | None:
    """Why ``value`` breaks ``schema``, or None if it does not."""
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            return f"{value!r} is not of type {' or '.join(types)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{value!r} is not one of {schema['enum']!r}"
    if "const" in schema and value != schema["const"]:
        return f"{value!r} is not {schema['const']!r}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        problem = _check_number(value, schema)
        if problem:
            return problem
    if isinstance(value, str):
        problem = _check_string(value, schema)
        if problem:
            return problem
    if isinstance(value, list | tuple):
        if "minItems" in schema and len(value) < schema["minItems"]:
            return f"has {len(value)} items, fewer than minItems {schema['minItems']}"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return f"has {len(value)} items, more than maxItems {schema['maxItems']}"
        if "items" in schema:
            for i, item in enumerate(value):
                problem = _check(item, schema["items"])
                if problem:
                    return f"item {i}: {problem}"
    return None


def _is_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[name])


def _check_number(value: float, schema: Mapping[str, Any]) -> str | None:
    if "minimum" in schema and value < schema["minimum"]:
        return f"{value!r} is less than the minimum of {schema['minimum']!r}"
    if "maximum" in schema and value > schema["maximum"]:
        return f"{value!r} is greater than the maximum of {schema['maximum']!r}"
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        return f"{value!r} is not greater than {schema['exclusiveMinimum']!r}"
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        return f"{value!r} is not less than {schema['exclusiveMaximum']!r}"
    return None


def _check_string(value: str, schema: Mapping[str, Any]) -> str | None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        return f"{value!r} is shorter than minLength {schema['minLength']}"
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return f"{value!r} is longer than maxLength {schema['maxLength']}"
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return f"{value!r} does not match the pattern {schema['pattern']!r}"
    fmt = schema.get("format")
    try:
        if fmt == "date":
            date.fromisoformat(value)
        elif fmt == "date-time":
            datetime.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not a valid {fmt}"
    return None
