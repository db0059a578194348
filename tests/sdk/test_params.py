from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from sluice import DAG, Param, task
from sluice.core.errors import DagDefinitionError, ParamValidationError
from sluice.operators import EmptyOperator
from sluice.sdk.params import ParamsDict


def resolve(schema_param: Param, value: Any) -> Any:
    return ParamsDict({"p": schema_param}).resolve({"p": value})["p"]


@pytest.mark.parametrize(
    ("param", "good", "bad", "reason"),
    [
        (Param(1, type="integer"), 5, "5", "is not of type integer"),
        (Param(1, type="integer"), 5, True, "is not of type integer"),
        (Param(1.0, type="number"), 2, "x", "is not of type number"),
        (Param("a", type="string"), "b", 3, "is not of type string"),
        (Param(True, type="boolean"), False, 1, "is not of type boolean"),
        (Param([], type="array"), [1], {"a": 1}, "is not of type array"),
        (Param({}, type="object"), {"a": 1}, [1], "is not of type object"),
        (Param(None, type=["null", "string"]), None, 1, "null or string"),
        (Param("a", enum=["a", "b"]), "b", "c", "is not one of ['a', 'b']"),
        (Param(5, minimum=1), 1, 0, "less than the minimum of 1"),
        (Param(5, maximum=10), 10, 11, "greater than the maximum of 10"),
        (Param(5, exclusiveMinimum=1), 2, 1, "not greater than 1"),
        (Param("abc", minLength=3), "xyz", "ab", "shorter than minLength 3"),
        (Param("abc", maxLength=3), "xyz", "abcd", "longer than maxLength 3"),
        (Param("a1", pattern=r"^[a-z]\d$"), "b2", "22", "does not match the pattern"),
        (Param("2024-01-01", format="date"), "2024-02-29", "2024-02-30", "not a valid date"),
        (
            Param("2024-01-01T00:00:00", format="date-time"),
            "2024-01-01T10:00:00+00:00",
            "yesterday",
            "not a valid date-time",
        ),
        (Param([1], type="array", minItems=1), [1, 2], [], "fewer than minItems 1"),
        (Param([1], type="array", items={"type": "integer"}), [1, 2], [1, "x"], "item 1"),
        (Param(10, type="integer", multipleOf=5), 15, 12, "12 is not a multiple of 5"),
        (Param(1.5, type="number", multipleOf=0.5), 2.5, 2.2, "2.2 is not a multiple of 0.5"),
        (Param([1], uniqueItems=True), [1, 2], [1, 2, 1], "item 2 (1) repeats an earlier"),
        (Param([], uniqueItems=True), [[1], [2]], [[1], [1]], "item 1 ([1]) repeats"),
        (Param([], uniqueItems=True), [1, True], [{"a": 1}, {"a": 1}], "item 1"),
        (Param("a@b.org", format="email"), "ada@example.com", "ada", "not a valid email"),
        (Param("10:00", format="time"), "23:59:59", "25:00", "not a valid time"),
        (
            Param({"host": "db"}, type="object", required=["host"]),
            {"host": "x", "port": 1},
            {"port": 1},
            "is missing the required key(s) 'host'",
        ),
        (
            Param({}, type="object", properties={"port": {"type": "integer", "maximum": 9}}),
            {"port": 9, "other": "kept"},
            {"port": 10},
            "key 'port': 10 is greater than the maximum of 9",
        ),
        (
            Param({}, properties={"a": {}}, additionalProperties=False),
            {"a": 1},
            {"a": 1, "b": 2},
            "key 'b' is not allowed (additionalProperties is false; keys: 'a')",
        ),
        (
            Param({}, additionalProperties={"type": "string"}),
            {"a": "x"},
            {"a": 1},
            "key 'a': 1 is not of type string",
        ),
        (Param({}, minProperties=1), {"a": 1}, {}, "fewer than minProperties 1"),
    ],
)
def test_param_constraints(param: Param, good: Any, bad: Any, reason: str) -> None:
    assert resolve(param, good) == good
    with pytest.raises(ParamValidationError, match=f"param 'p': .*{re.escape(reason)}"):
        resolve(param, bad)


def test_integer_valued_float_is_an_integer() -> None:
    assert resolve(Param(1, type="integer"), 3.0) == 3.0


def test_every_json_schema_keyword_is_accepted_and_the_unchecked_kept() -> None:
    schema = {
        "type": "object",
        "title": "Target",
        "description_md": "**Where** to load",
        "examples": [{"host": "db"}],
        "values_display": {"db": "Database"},
        "section": "Advanced",
        "properties": {"host": {"type": "string", "format": "hostname"}},
        "required": ["host"],
        "additionalProperties": False,
        "anyOf": [{"required": ["host"]}],
        "$comment": "not checked",
        "my_team_key": 1,  # a user's own metadata
    }
    param = Param({"host": "db"}, "the target", **schema)

    assert param.schema == schema
    assert resolve(param, {"host": "other"}) == {"host": "other"}
    assert Param.load(param.dump()).schema == schema


def test_a_near_miss_of_a_checked_keyword_warns() -> None:
    with pytest.warns(UserWarning, match="'minimun' is not a JSON Schema keyword; did you mean"):
        param = Param(1, minimun=0)
    # Kept as metadata, not checked: as jsonschema, which ignores unknown keywords.
    assert resolve(param, -5) == -5


def test_bad_schemas_are_refused() -> None:
    with pytest.raises(ParamValidationError, match="unknown Param type 'int'"):
        Param(1, type="int")
    with pytest.raises(ParamValidationError, match="unknown Param type 'str'"):
        Param({}, properties={"a": {"type": "str"}})
    with pytest.raises(ParamValidationError, match="multipleOf must be a number > 0"):
        Param(1, multipleOf=0)
    with pytest.raises(ParamValidationError, match="required must be a list of key names"):
        Param({}, required="host")


def test_at_dag_keeps_a_declared_params_schema_without_warning_again() -> None:
    declared = Param(1, "n", type="integer", multipleOf=2)
    # An argument value replaces the default; the schema stays and nothing warns (the
    # test suite turns warnings into errors).
    assert declared.with_value(4).schema == declared.schema
    assert declared.with_value(4).value == 4 and declared.value == 1


def test_conf_overrides_defaults_and_extra_keys_are_kept() -> None:
    params = ParamsDict({"a": Param(1, type="integer"), "b": "plain"})
    assert params.resolve({"a": 2, "extra": [1]}) == {"a": 2, "b": "plain", "extra": [1]}
    assert params.resolve(None) == {"a": 1, "b": "plain"}


def test_missing_required_param() -> None:
    params = ParamsDict({"need": Param(type="string")})
    with pytest.raises(ParamValidationError, match="param 'need': no value given"):
        params.resolve({})
    assert params.resolve({"need": "x"}) == {"need": "x"}


def test_params_dict_reads_values_not_params() -> None:
    params = ParamsDict({"a": Param(1, description="one"), "b": 2, "c": Param()})
    assert params["a"] == 1 and params["b"] == 2 and params["c"] is None
    assert params.get_param("a").description == "one"
    assert len(params) == 3 and set(params) == {"a", "b", "c"}
    copy = params.copy()
    copy["a"] = 5
    assert params["a"] == 1


def test_param_dump_and_load_round_trip() -> None:
    param = Param(3, "desc", type="integer", minimum=1)
    again = Param.load(param.dump())
    assert (again.value, again.description, again.schema) == (3, "desc", param.schema)
    required = Param.load(Param(type="string").dump())
    assert not required.has_value


def test_invalid_conf_is_rejected_before_anything_runs(make_run) -> None:  # type: ignore[no-untyped-def]
    ran: list[str] = []
    with DAG("d", params={"n": Param(1, type="integer", minimum=1)}) as dag:

        @task
        def step() -> None:
            ran.append("step")

        step()
    with pytest.raises(ParamValidationError, match="param 'n': 0 is less than the minimum of 1"):
        make_run(dag, conf={"n": 0})
    with pytest.raises(ParamValidationError, match="param 'n': 'x' is not of type integer"):
        make_run(dag, conf={"n": "x"})
    assert ran == []


def test_params_in_context_follow_conf(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d", params={"n": Param(1, type="integer"), "name": "x"}) as dag:

        @task
        def step(params: dict[str, Any] = {}) -> None:  # noqa: B006
            seen.append(dict(params))

        step()
    run_dag(dag, conf={"n": 5, "other": True})
    assert seen == [{"n": 5, "name": "x", "other": True}]


def test_missing_required_param_in_a_run(make_run) -> None:  # type: ignore[no-untyped-def]
    with DAG("d", params={"need": Param(type="string")}) as dag:
        EmptyOperator(task_id="t")
    with pytest.raises(ParamValidationError, match="'need'"):
        make_run(dag)


def test_scheduled_dag_needs_a_default_for_every_param() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    params = {"ok": 1, "need": Param(type="string")}
    with DAG("x", schedule="@daily", start_date=start, params=params) as dag:
        EmptyOperator(task_id="t")
    with pytest.raises(DagDefinitionError) as caught:
        dag.validate()
    assert str(caught.value) == (
        "DAG 'x' has a schedule, so every param needs a default; param 'need' has none"
    )


def test_unscheduled_dag_may_have_required_params() -> None:
    with DAG("x", schedule=None, params={"need": Param(type="string")}) as dag:
        EmptyOperator(task_id="t")
    dag.validate()


def test_bad_default_caught_by_validate() -> None:
    with DAG("d", params={"n": Param(0, type="integer", minimum=1)}) as dag:
        EmptyOperator(task_id="t")
    with pytest.raises(DagDefinitionError, match="param 'n': 0 is less than the minimum"):
        dag.validate()


def test_task_params_are_validated_in_a_run(run_dag, states) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d", params={"a": 1}) as dag:

        @task(params={"b": Param(2, type="integer")})
        def step(params: dict[str, Any] = {}) -> None:  # noqa: B006
            seen.append(dict(params))

        step()
    run_dag(dag, conf={"b": 7})
    assert seen == [{"a": 1, "b": 7}]
