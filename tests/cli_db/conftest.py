"""Fixtures for the commands over the metadata database: ``sluice`` on the test database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from tests.store_backends import TEST_FERNET_KEY

from sluice.cli.main import cli
from sluice.store.engine import Store

Sluice = Callable[..., Result]


@pytest.fixture
def db_env(store: Store, tmp_path: Path) -> dict[str, str]:
    """Environment for a ``sluice`` command on the test database (one backend per param)."""
    return {
        "SLUICE_HOME": str(tmp_path / "home"),
        "SLUICE__DATABASE__SQL_ALCHEMY_CONN": store.url,
        "SLUICE__CORE__LOAD_EXAMPLES": "false",
        "SLUICE__CORE__FERNET_KEY": TEST_FERNET_KEY,
        "COLUMNS": "300",
    }


@pytest.fixture
def sluice(db_env: dict[str, str]) -> Sluice:
    """Run ``sluice ARGS`` on the test database; ``env`` adds variables."""

    def run(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> Result:
        return CliRunner().invoke(
            cli, list(args), env={**db_env, **(env or {})}, catch_exceptions=False, **kwargs
        )

    return run
