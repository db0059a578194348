"""Request bodies: a field the endpoint does not know is an error, never ignored.

Ignoring one would let ``{"new_state": "failed", "dry_run": true}`` mark a task failed
for real, or ``{"valu": 1}`` answer 200 having changed nothing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    """The base of every request body: unknown fields answer 422 naming them."""

    model_config = ConfigDict(extra="forbid")
