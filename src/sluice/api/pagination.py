"""Lists are paginated with ``limit`` and ``offset`` and say their total."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_OFFSET = 2**31 - 1
"""Larger offsets cannot be a real list position (and overflow SQLite's integers)."""

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    """Which slice of a list is asked for."""

    limit: int
    offset: int

    @classmethod
    def numbered(cls, page: int, size: int) -> PageRequest:
        """Page ``page`` (counted from 1) of pages of ``size`` items, as the UI's lists
        number them."""
        return cls(limit=size, offset=(page - 1) * size)


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Most items to return.")] = (
        DEFAULT_LIMIT
    ),
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
) -> PageRequest:
    """The ``limit``/``offset`` query parameters (a FastAPI dependency)."""
    return PageRequest(limit=limit, offset=offset)


class Page(BaseModel, Generic[T]):
    """One page of a list, with the number of items in the whole list."""

    items: list[T]
    total: int
    limit: int
    offset: int


def count(session: Session, query: Select[Any]) -> int:
    """How many rows ``query`` returns (its ORDER BY dropped)."""
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return int(session.scalar(counted) or 0)


def fetch(session: Session, query: Select[Any], page: PageRequest) -> tuple[list[Any], int]:
    """One page of ``query``'s rows (query must be ordered) and the total count."""
    rows = list(session.execute(query.limit(page.limit).offset(page.offset)))
    if page.offset == 0 and len(rows) < page.limit:
        return rows, len(rows)  # the whole list is here: no COUNT needed
    return rows, count(session, query)
