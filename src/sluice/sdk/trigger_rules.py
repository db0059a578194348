"""Trigger rules: when a task may run, given the states of its direct upstream tasks."""

from __future__ import annotations

from enum import StrEnum

from sluice.core.errors import DagDefinitionError
from sluice.core.suggestions import close_matches


class TriggerRule(StrEnum):
    """The condition on its direct upstream tasks that lets a task run (Airflow's names)."""

    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"


# Built once: parse_trigger_rule runs for every task of every parsed DAG.
_BY_VALUE: dict[str, TriggerRule] = {rule.value: rule for rule in TriggerRule}

# Names older Airflow versions accepted, which DAG files ported from them still use.
_RENAMED: dict[str, str] = {
    "none_failed_or_skipped": "renamed none_failed_min_one_success in Airflow 2.2",
    "dummy": "renamed always",
}


def parse_trigger_rule(value: str | TriggerRule) -> TriggerRule:
    """Return the TriggerRule named by ``value``, or raise DagDefinitionError."""
    # Exact, case-sensitive match, as Airflow's TriggerRule.is_valid: a DAG that
    # parses here must parse there too.
    rule = _BY_VALUE.get(value) if isinstance(value, str) else None
    if rule is None:
        raise DagDefinitionError(_unknown_message(value))
    return rule


def _unknown_message(value: object) -> str:
    head = f"unknown trigger rule {value!r}"
    if isinstance(value, str) and value in _RENAMED:
        return f"{head}: {_RENAMED[value]}"
    expected = ", ".join(_BY_VALUE)
    word = value.strip() if isinstance(value, str) else ""
    matches = close_matches(word, _BY_VALUE) if word else []
    if matches:
        hint = ", ".join(repr(m) for m in matches)
        return f"{head}; did you mean {hint}? Expected one of {expected}"
    return f"{head}; expected one of {expected}"
