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


@pytest.mark.parametrize("value", ["x", "", "zzz"])
def test_parse_rejects_unknown(value: str) -> None:
    with pytest.raises(DagDefinitionError) as excinfo:
        parse_trigger_rule(value)
    message = str(excinfo.value)
    assert message.startswith(f"unknown trigger rule {value!r}; expected one of ")
    for known in AIRFLOW_VALUES:
        assert known in message


@pytest.mark.parametrize(
    ("value", "suggestion"),
    [
        ("all_sucess", "all_success"),
        ("ALL_SUCCESS", "all_success"),  # case-sensitive, as Airflow's TriggerRule.is_valid
        (" all_success", "all_success"),
        ("none_failed_min_one_sucess", "none_failed_min_one_success"),
    ],
)
def test_parse_suggests_close_rules(value: str, suggestion: str) -> None:
    with pytest.raises(DagDefinitionError) as excinfo:
        parse_trigger_rule(value)
    message = str(excinfo.value)
    assert message.startswith(f"unknown trigger rule {value!r}; did you mean '{suggestion}'")
    assert "Expected one of all_success," in message


@pytest.mark.parametrize(
    ("value", "explanation"),
    [
        ("none_failed_or_skipped", "renamed none_failed_min_one_success in Airflow 2.2"),
        ("dummy", "renamed always"),
    ],
)
def test_parse_explains_airflows_old_names(value: str, explanation: str) -> None:
    with pytest.raises(DagDefinitionError) as excinfo:
        parse_trigger_rule(value)
    assert str(excinfo.value) == f"unknown trigger rule {value!r}: {explanation}"


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(DagDefinitionError, match="unknown trigger rule None"):
        parse_trigger_rule(None)  # type: ignore[arg-type]
    with pytest.raises(DagDefinitionError, match="unknown trigger rule"):
        parse_trigger_rule(["all_success"])  # type: ignore[arg-type]
