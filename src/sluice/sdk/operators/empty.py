"""EmptyOperator: a task that does nothing, for structure and joins."""

from __future__ import annotations

from typing import Any

from sluice.sdk.operator import BaseOperator, Context


class EmptyOperator(BaseOperator):
    """Does nothing; succeeds at once."""

    ui_color = "#e8f7e4"

    def execute(self, context: Context) -> Any:
        """Nothing to do."""
        return None
