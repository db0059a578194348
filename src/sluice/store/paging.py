"""One page of a query's rows, with how many rows the whole query has."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


def count_rows(session: Session, query: Select[Any]) -> int:
    """How many rows ``query`` returns (its ORDER BY dropped)."""
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return int(session.scalar(counted) or 0)


def fetch_page(
    session: Session, query: Select[Any], limit: int, offset: int, *, scalars: bool = False
) -> tuple[list[Any], int]:
    """One page of ``query``'s rows (the query must be ordered; ``scalars``: first column
    only) and the total; a first page shorter than ``limit`` is the whole list, so no COUNT."""
    page = query.limit(limit).offset(offset)
    rows = list(session.scalars(page) if scalars else session.execute(page))
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)
    return rows, count_rows(session, query)
