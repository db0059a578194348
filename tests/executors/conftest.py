"""Executors under test: started for real, terminated after each test whatever happened."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.executors.harness import MakeExecutor, executor_factory


@pytest.fixture(params=["local", "local-no-prefork", "sequential"])
def make_executor(request: pytest.FixtureRequest) -> Iterator[MakeExecutor]:
    """Build and start either executor (the contract both must meet)."""
    yield from executor_factory(request.param)


@pytest.fixture(params=["local", "local-no-prefork"])
def make_local(request: pytest.FixtureRequest) -> Iterator[MakeExecutor]:
    """Build and start a LocalExecutor, with and without pre-forked children."""
    yield from executor_factory(request.param)


@pytest.fixture
def make_preforking() -> Iterator[MakeExecutor]:
    """Build and start a LocalExecutor whose workers keep a spare child."""
    yield from executor_factory("local")


@pytest.fixture
def make_forking() -> Iterator[MakeExecutor]:
    """Build and start a LocalExecutor that forks each child for its workload."""
    yield from executor_factory("local-no-prefork")
