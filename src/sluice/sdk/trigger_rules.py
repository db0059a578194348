"""Trigger rules: when a task may run, given the states of its direct upstream tasks."""

from __future__ import annotations

from enum import StrEnum

from sluice.core.errors import DagDefinitionError


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


def parse_trigger_rule(value: str | TriggerRule) -> TriggerRule:
    """Return the TriggerRule named by ``value``, or raise DagDefinitionError."""
    # Exact, case-sensitive match, as Airflow's TriggerRule.is_valid: a DAG that
    # parses here must parse there too.
    rule = _BY_VALUE.get(value) if isinstance(value, str) else None
    if rule is None:
        expected = ", ".join(_BY_VALUE)
        raise DagDefinitionError(f"unknown trigger rule {value!r}; expected one of {expected}")
    return rule
