"""The SQL tests also run tasks through the real task runner (the ``stored`` fixture)."""

from tests.runner.conftest import stored  # noqa: F401
