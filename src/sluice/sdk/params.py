"""Param: a typed, validated run argument, as Airflow's ``Param`` (a JSON Schema).

Every JSON Schema keyword is accepted, as Airflow hands the schema to ``jsonschema``. The
ones in ``VALIDATED_KEYWORDS`` are checked; the others (``title``, ``description_md``,
``$ref``, ``oneOf``...) are kept as metadata for the UI and for serialization.
"""

from __future__ import annotations

import copy
import difflib
import re
import warnings
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import date, datetime, time
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
VALIDATED_KEYWORDS = frozenset({
    "type", "enum", "const",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "pattern", "format",
    "items", "minItems", "maxItems", "uniqueItems",
    "properties", "required", "additionalProperties", "minProperties", "maxProperties",
})  # fmt: skip
"""The keywords whose constraints Sluice checks; ``format`` for date, date-time, time, email."""

# The rest of JSON Schema (draft 2020-12 and draft 7) and the keys Airflow's UI reads: kept
# as metadata. A key in neither set that looks like a checked keyword draws a warning.
_METADATA_KEYWORDS = frozenset({
    "$schema", "$id", "$ref", "$defs", "$comment", "$anchor", "$dynamicRef", "$dynamicAnchor",
    "$vocabulary", "definitions", "title", "description", "default", "examples", "deprecated",
    "readOnly", "writeOnly", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
    "dependentRequired", "dependentSchemas", "dependencies", "patternProperties",
    "propertyNames", "unevaluatedProperties", "unevaluatedItems", "prefixItems", "contains",
    "minContains", "maxContains", "additionalItems", "contentEncoding", "contentMediaType",
    "contentSchema", "description_md", "values_display", "section", "custom_html_form",
})  # fmt: skip


class Param:
    """A DAG or task parameter with a default and JSON-Schema-style constraints."""

    def __init__(
        self, default: Any = NOTSET, description: str | None = None, **schema: Any
    ) -> None:
        _check_schema(schema)
        for key in sorted(set(schema) - VALIDATED_KEYWORDS - _METADATA_KEYWORDS):
            # Only a near miss ("minimun", "maxlength"): any other key is a user's metadata.
            close = difflib.get_close_matches(key, sorted(VALIDATED_KEYWORDS), n=1, cutoff=0.8)
            if close:
                warnings.warn(
                    f"Param option {key!r} is not a JSON Schema keyword; did you mean"
                    f" {close[0]!r}? It is kept as metadata and not checked",
                    UserWarning,
                    stacklevel=2,
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

    def with_value(self, value: Any) -> Param:
        """A copy of this Param whose default is ``value``; the schema is shared."""
        new = copy.copy(self)
        new.value = value
        return new

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
        with warnings.catch_warnings():
            # Any warning about the schema was shown when the DAG file made the Param.
            warnings.simplefilter("ignore", UserWarning)
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


def _check_schema(schema: Mapping[str, Any]) -> None:
    """Refuse what would make checking a value fail: unknown types, bad nested schemas."""
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        bad = [t for t in types if t not in _TYPES]
        if bad:
            raise ParamValidationError(
                f"unknown Param type {bad[0]!r}; expected one of {', '.join(_TYPES)}"
            )
    step = schema.get("multipleOf")
    if "multipleOf" in schema and (
        isinstance(step, bool) or not isinstance(step, int | float) or step <= 0
    ):
        raise ParamValidationError(f"multipleOf must be a number > 0, not {step!r}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            _check_schema(schema[key])
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping) or not all(
        isinstance(sub, Mapping) for sub in properties.values()
    ):
        raise ParamValidationError("properties must map each key to a schema (a dict)")
    for sub in properties.values():
        _check_schema(sub)
    required = schema.get("required", [])
    if not isinstance(required, list | tuple) or not all(isinstance(k, str) for k in required):
        raise ParamValidationError(f"required must be a list of key names, not {required!r}")


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
        return _check_array(value, schema)
    if isinstance(value, Mapping):
        return _check_object(value, schema)
    return None


def _check_array(value: list[Any] | tuple[Any, ...], schema: Mapping[str, Any]) -> str | None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        return f"has {len(value)} items, fewer than minItems {schema['minItems']}"
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        return f"has {len(value)} items, more than maxItems {schema['maxItems']}"
    if schema.get("uniqueItems"):
        for i, item in enumerate(value):
            # By equality, as JSON Schema (items may be unhashable lists and dicts); but
            # 1 and True are different JSON values.
            if any(_same_json(item, earlier) for earlier in value[:i]):
                return f"item {i} ({item!r}) repeats an earlier item, but uniqueItems is set"
    if isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            problem = _check(item, schema["items"])
            if problem:
                return f"item {i}: {problem}"
    return None


def _check_object(value: Mapping[Any, Any], schema: Mapping[str, Any]) -> str | None:
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        return f"has {len(value)} keys, fewer than minProperties {schema['minProperties']}"
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        return f"has {len(value)} keys, more than maxProperties {schema['maxProperties']}"
    missing = [key for key in schema.get("required", []) if key not in value]
    if missing:
        return f"is missing the required key(s) {', '.join(repr(k) for k in missing)}"
    properties: Mapping[str, Any] = schema.get("properties", {})
    extra_schema = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            problem = _check(item, properties[key])
        elif extra_schema is False:
            allowed = ", ".join(repr(k) for k in properties) or "none"
            return f"key {key!r} is not allowed (additionalProperties is false; keys: {allowed})"
        elif isinstance(extra_schema, Mapping):
            problem = _check(item, extra_schema)
        else:
            problem = None
        if problem:
            return f"key {key!r}: {problem}"
    return None


def _same_json(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _is_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[name])


def _check_number(value: float, schema: Mapping[str, Any]) -> str | None:
    problem = _check_bounds(value, schema)
    if problem is None and "multipleOf" in schema and not _is_multiple(value, schema["multipleOf"]):
        problem = f"{value!r} is not a multiple of {schema['multipleOf']!r}"
    return problem


def _is_multiple(value: float, step: float) -> bool:
    if isinstance(value, int) and isinstance(step, int):
        return value % step == 0
    # As the jsonschema package: a float quotient must be a whole number.
    try:
        quotient = value / step
        return quotient == int(quotient)
    except OverflowError:
        return False


def _check_bounds(value: float, schema: Mapping[str, Any]) -> str | None:
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
        elif fmt == "time":
            time.fromisoformat(value)
        elif fmt == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
            raise ValueError(value)
    except ValueError:
        return f"{value!r} is not a valid {fmt}"
    # Other formats (uri, uuid, ipv4...) are metadata, as jsonschema without extras.
    return None
