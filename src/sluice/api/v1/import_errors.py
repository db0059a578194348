"""REST API: import_errors (being written)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
