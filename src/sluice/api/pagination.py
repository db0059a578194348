"""Lists are paginated with ``limit`` and ``offset`` and say their total."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import Session

from sluice.store.paging import fetch_page

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


PageNumber = Annotated[int, Query(ge=1, description="Page of a list page, from 1.")]
"""The ``page`` query parameter of the list pages."""


class Page(BaseModel, Generic[T]):
    """One page of a list, with the number of items in the whole list."""

    items: list[T]
    total: int
    limit: int
    offset: int


def fetch(session: Session, query: Select[Any], page: PageRequest) -> tuple[list[Any], int]:
    """One page of ``query``'s rows (query must be ordered) and the total count."""
    return fetch_page(session, query, page.limit, page.offset)
