"""Reading a DAG's source file for the Code tab and ``GET /dags/{dag_id}/source``.

The path is the one the DAG processor stored for the DAG (``fileloc``), never one a
request gives.
"""

from __future__ import annotations

from dataclasses import dataclass

from sluice.api.problems import ApiError

MAX_SOURCE_BYTES = 5 * 1024 * 1024
"""A DAG file larger than this is not sent whole (nobody reads 5 MB of Python in a page)."""


@dataclass(frozen=True)
class DagSourceText:
    """The text of a DAG file (undecodable bytes replaced)."""

    text: str
    cut: bool
    """The file is longer than the limit: ``text`` is its beginning."""


def read_dag_source(dag_id: str, fileloc: str, limit: int = MAX_SOURCE_BYTES) -> DagSourceText:
    """Up to ``limit`` bytes of the DAG's file; ApiError 404 when it is gone or cannot be
    read since it was parsed."""
    try:
        with open(fileloc, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise ApiError(
            404,
            f"the file of DAG '{dag_id}', {fileloc}, is gone: it was deleted or moved"
            " since the DAG processor parsed it",
        ) from None
    except OSError as exc:
        raise ApiError(
            404, f"the file of DAG '{dag_id}', {fileloc}, cannot be read: {exc.strerror}"
        ) from None
    return DagSourceText(data[:limit].decode("utf-8", errors="replace"), len(data) > limit)
