"""Shared fixtures: a fixed logical date and a helper that runs a DAG in memory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from sluice.runner.local_run import LocalDagRun, RunResult
from sluice.sdk.dag import DAG

LOGICAL_DATE = datetime(2024, 3, 15, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)

RunDag = Callable[..., RunResult]


@pytest.fixture
def logical_date() -> datetime:
    """A fixed, timezone-aware logical date for test runs."""
    return LOGICAL_DATE


@pytest.fixture
def run_dag(logical_date: datetime) -> RunDag:
    """Run a whole DAG in this process, without waiting for retry delays."""

    def run(dag: DAG, **kwargs: Any) -> RunResult:
        kwargs.setdefault("logical_date", logical_date)
        kwargs.setdefault("wait_for_retries", False)
        return LocalDagRun(dag, **kwargs).execute()

    return run


@pytest.fixture
def make_run(logical_date: datetime) -> Callable[..., LocalDagRun]:
    """A LocalDagRun not yet executed (to look at its XCom or run single tasks)."""

    def make(dag: DAG, **kwargs: Any) -> LocalDagRun:
        kwargs.setdefault("logical_date", logical_date)
        kwargs.setdefault("wait_for_retries", False)
        return LocalDagRun(dag, **kwargs)

    return make


def _states(result: RunResult) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for record in sorted(result.instances, key=lambda r: (r.task_id, r.map_index)):
        if record.map_index < 0:
            out[record.task_id] = record.state
        else:
            out.setdefault(record.task_id, []).append(record.state)
    return out


@pytest.fixture
def states() -> Callable[[RunResult], dict[str, Any]]:
    """Final state per task id; a mapped task gives the list of its instances' states."""
    return _states


pytest_plugins = ["tests.store_backends"]
