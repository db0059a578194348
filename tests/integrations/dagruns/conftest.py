"""DAGs that look at other DAGs: real DAG files stored as the DAG processor would, and
the task runner over the test database (the ``stored`` fixture of tests/runner)."""

from __future__ import annotations

from tests.runner.conftest import stored  # noqa: F401  (the fixture, for this folder)
