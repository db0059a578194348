"""``sluice.operators``: the built-in operators at Airflow 2's import paths."""

from __future__ import annotations

import importlib

import pytest

import sluice.operators
from sluice.sdk.operators import bash, empty, python

AIRFLOW_2_PATHS = [
    ("sluice.operators.bash", "BashOperator", bash.BashOperator),
    ("sluice.operators.python", "PythonOperator", python.PythonOperator),
    ("sluice.operators.python", "BranchPythonOperator", python.BranchPythonOperator),
    ("sluice.operators.python", "ShortCircuitOperator", python.ShortCircuitOperator),
    ("sluice.operators.empty", "EmptyOperator", empty.EmptyOperator),
]


@pytest.mark.parametrize(("module", "name", "expected"), AIRFLOW_2_PATHS)
def test_airflow_2_module_paths_import(module: str, name: str, expected: type) -> None:
    imported = importlib.import_module(module)

    assert getattr(imported, name) is expected
    assert name in imported.__all__


@pytest.mark.parametrize(("module", "name", "expected"), AIRFLOW_2_PATHS)
def test_the_package_re_exports_every_operator(module: str, name: str, expected: type) -> None:
    assert getattr(sluice.operators, name) is expected
    assert name in sluice.operators.__all__
