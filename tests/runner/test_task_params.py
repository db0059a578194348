"""A task's params in a run: the DAG's, then the task's own, then the run's conf."""

from __future__ import annotations

from typing import Any

import pytest

from sluice import DAG, Param, task
from sluice.core.errors import ParamValidationError
from sluice.core.states import TaskInstanceState
from sluice.runner.task_params import resolve_task_params
from sluice.sdk.params import ParamsDict

S = TaskInstanceState


def _seen_params(run_dag, dag_params: dict[str, Any], task_params: Any, **run: Any) -> Any:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d", params=dag_params) as dag:

        @task(params=task_params)
        def step(params: dict[str, Any] = {}) -> None:  # noqa: B006
            seen.append(dict(params))

        step()
    result = run_dag(dag, **run)
    return seen[0] if seen else result.instances[0].error


def test_task_plain_value_overrides_the_dag_param(run_dag) -> None:  # type: ignore[no-untyped-def]
    dag_params = {"n": Param(1, type="integer", minimum=1), "other": "x"}
    assert _seen_params(run_dag, dag_params, {"n": 5}) == {"n": 5, "other": "x"}


def test_conf_overrides_the_task_value(run_dag) -> None:  # type: ignore[no-untyped-def]
    dag_params = {"n": Param(1, type="integer")}
    assert _seen_params(run_dag, dag_params, {"n": 5}, conf={"n": 7}) == {"n": 7}


def test_task_plain_value_is_validated_by_the_dag_param(run_dag) -> None:  # type: ignore[no-untyped-def]
    error = _seen_params(run_dag, {"n": Param(1, type="integer", minimum=1)}, {"n": 0})
    assert error == "ParamValidationError: param 'n': 0 is less than the minimum of 1"


def test_task_param_replaces_the_dag_param(run_dag) -> None:  # type: ignore[no-untyped-def]
    dag_params = {"s": Param("a", type="string")}
    task_params = {"s": Param(3, type="integer")}
    assert _seen_params(run_dag, dag_params, task_params) == {"s": 3}
    # The conf is validated by the task's Param, the one that applies.
    error = _seen_params(run_dag, dag_params, task_params, conf={"s": "text"})
    assert error == "ParamValidationError: param 's': 'text' is not of type integer"


def test_mapped_task_params_override_too(run_dag) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    with DAG("d", params={"n": Param(1, type="integer"), "keep": True}) as dag:

        @task
        def each(x: int, params: dict[str, Any] = {}) -> None:  # noqa: B006
            seen.append((x, dict(params)))

        each.override(params={"n": 2}).expand(x=[0, 1])
    run_dag(dag)
    assert seen == [(0, {"n": 2, "keep": True}), (1, {"n": 2, "keep": True})]


def test_resolve_keeps_undeclared_conf_keys() -> None:
    dag = ParamsDict({"a": 1})
    assert resolve_task_params(dag, {"b": 2}, {"c": 3}) == {"a": 1, "b": 2, "c": 3}


def test_resolve_with_task_param_without_default_keeps_the_dag_default() -> None:
    dag = ParamsDict({"a": Param(4, type="integer")})
    assert resolve_task_params(dag, ParamsDict({"a": Param(description="doc")}), {}) == {"a": 4}


def test_resolve_validates_the_conf_with_the_dag_param() -> None:
    dag = ParamsDict({"a": Param(4, type="integer")})
    with pytest.raises(ParamValidationError, match="param 'a': 'x' is not of type integer"):
        resolve_task_params(dag, {"a": 5}, {"a": "x"})
