from __future__ import annotations

import re
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
    ],
)
def test_param_constraints(param: Param, good: Any, bad: Any, reason: str) -> None:
    assert resolve(param, good) == good
    with pytest.raises(ParamValidationError, match=f"param 'p': .*{re.escape(reason)}"):
        resolve(param, bad)


def test_integer_valued_float_is_an_integer() -> None:
    assert resolve(Param(1, type="integer"), 3.0) == 3.0


def test_unknown_param_option_or_type() -> None:
    with pytest.raises(ParamValidationError, match=r"unknown Param option.*minimun"):
        Param(1, minimun=0)
    with pytest.raises(ParamValidationError, match="unknown Param type 'int'"):
        Param(1, type="int")


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
