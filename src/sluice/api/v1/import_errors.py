"""``/importErrors``: DAG files that failed to import, with their tracebacks."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from sluice.api.deps import DbSession, Paging, Reader
from sluice.api.pagination import Page, fetch
from sluice.api.problems import ApiError
from sluice.store.listings import get_import_error, import_error_query
from sluice.store.tables import ImportErrorRow

router = APIRouter(tags=["ImportError"])


class ImportErrorModel(BaseModel):
    """A DAG file (or a DAG in it) that failed to load, until it is fixed."""

    import_error_id: int
    filename: str
    line: int | None
    message: str
    stack_trace: str
    dag_id: str | None
    """The DAG the error is about, when it is about one DAG of the file."""
    timestamp: datetime

    @classmethod
    def of(cls, row: ImportErrorRow) -> ImportErrorModel:
        """The model of an import_error row."""
        return cls(
            import_error_id=row.id,
            filename=row.filename,
            line=row.line,
            message=row.message,
            stack_trace=row.stacktrace,
            dag_id=row.dag_id,
            timestamp=row.timestamp,
        )


@router.get("/importErrors", response_model=Page[ImportErrorModel])
def list_import_errors(session: DbSession, user: Reader, page: Paging) -> Page[ImportErrorModel]:
    """List the import errors, by file name."""
    rows, total = fetch(session, import_error_query(), page)
    return Page(
        items=[ImportErrorModel.of(row) for (row,) in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/importErrors/{import_error_id}", response_model=ImportErrorModel)
def get_import_error_by_id(
    import_error_id: int, session: DbSession, user: Reader
) -> ImportErrorModel:
    """One import error."""
    row = get_import_error(session, import_error_id)
    if row is None:
        raise ApiError(
            404,
            f"no import error with id {import_error_id}; the file may have been fixed since",
        )
    return ImportErrorModel.of(row)
