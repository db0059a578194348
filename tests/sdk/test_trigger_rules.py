from __future__ import annotations

import pytest

from sluice.core.errors import DagDefinitionError
from sluice.sdk.trigger_rules import TriggerRule, parse_trigger_rule

AIRFLOW_VALUES = {
    "all_success",
    "all_failed",
    "all_done",
    "all_done_min_one_success",
    "all_skipped",
    "one_success",
    "one_failed",
    "one_done",
    "none_failed",
    "none_failed_min_one_success",
    "none_skipped",
    "always",
}


def test_values_are_airflows_strings() -> None:
    assert {rule.value for rule in TriggerRule} == AIRFLOW_VALUES
    for rule in TriggerRule:
        assert rule.value == rule.name.lower()


@pytest.mark.parametrize("value", sorted(AIRFLOW_VALUES))
def test_parse_accepts_every_value(value: str) -> None:
    rule = parse_trigger_rule(value)
    assert rule is TriggerRule(value)
    assert parse_trigger_rule(rule) is rule


@pytest.mark.parametrize(
    "value",
    [
        "x",
        "",
        "ALL_SUCCESS",  # case-sensitive, as Airflow's TriggerRule.is_valid
        " all_success",
        "none_failed_or_skipped",  # removed from Airflow 3
        "dummy",  # removed from Airflow 3
    ],
)
def test_parse_rejects_unknown(value: str) -> None:
    with pytest.raises(DagDefinitionError) as excinfo:
        parse_trigger_rule(value)
    message = str(excinfo.value)
    assert message.startswith(f"unknown trigger rule {value!r}; expected one of ")
    for known in AIRFLOW_VALUES:
        assert known in message


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(DagDefinitionError, match="unknown trigger rule None"):
        parse_trigger_rule(None)  # type: ignore[arg-type]
    with pytest.raises(DagDefinitionError, match="unknown trigger rule"):
        parse_trigger_rule(["all_success"])  # type: ignore[arg-type]
