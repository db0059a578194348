"""A task's ``params`` in a run: the DAG's, then the task's own, then the run's conf."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluice.sdk.params import NOTSET, Param, ParamsDict


def resolve_task_params(
    dag_params: ParamsDict, task_params: Mapping[str, Any] | None, conf: Mapping[str, Any]
) -> dict[str, Any]:
    """The params a task sees, in Airflow's order, each validated by the Param that applies.

    A task's Param with constraints replaces the DAG's; a plain value (or a Param with
    no constraints) becomes the value of the DAG's Param, which still validates it, as
    Airflow's ``ParamsDict`` does. The run's conf overrides both; its other keys are kept.
    """
    # Per name: the Param that validates, and the value it gets unless conf gives one.
    applied: dict[str, tuple[Param, Any]] = {
        name: (param, NOTSET) for name, param in dag_params.as_plain().items()
    }
    for name, param in _as_params(task_params).items():
        base = applied.get(name, (None, NOTSET))[0]
        if base is None or param is base or param.schema:
            applied[name] = (param, NOTSET)
        else:
            applied[name] = (base, param.value)
    rest = dict(conf)
    resolved = {
        name: param.resolve(rest.pop(name, value), name=name)
        for name, (param, value) in applied.items()
    }
    return {**resolved, **rest}


def _as_params(params: Mapping[str, Any] | None) -> dict[str, Param]:
    # A BaseOperator holds a ParamsDict; a mapped task's partial arguments hold a dict.
    if isinstance(params, ParamsDict):
        return params.as_plain()
    return ParamsDict(params).as_plain()
