"""REST API: the log of a task try, read in pieces from a byte offset (to tail it).

The file read is the one the try's stored row names, checked to lie inside the logs
folder (``sluice.api.log_files``); nothing in the request's path picks a file.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from sluice.api.deps import Ctx, DbSession, Reader
from sluice.api.log_files import find_try_log, read_log
from sluice.api.v1.task_instances import MapIndex, lookup

router = APIRouter(tags=["TaskInstance"])


class LogOut(BaseModel):
    """A piece of a try's log."""

    try_number: int
    content: str
    offset: int = Field(description="Give it back as `offset` to read what follows.")
    finished: bool = Field(description="The try is over and the log ends here: stop tailing.")


@router.get(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}",
    response_model=LogOut,
    responses={200: {"content": {"text/plain": {}}}},
)
def get_log(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    try_number: Annotated[int, Path(ge=1, description="The try, from 1.")],
    request: Request,
    session: DbSession,
    ctx: Ctx,
    user: Reader,
    map_index: MapIndex = None,
    offset: Annotated[int, Query(ge=0, description="Byte offset to read from.")] = 0,
) -> Response:
    """A piece of a try's log from `offset` (at most 256 KiB): its text, the offset to read
    from next, and whether the try is over and the log complete (to stop tailing).

    With `Accept: text/plain` the text alone, the next offset in the `X-Log-Offset` header
    and `X-Log-Finished: true` or `false`.
    """
    ti, _ = lookup(session, dag_id, dag_run_id, task_id, map_index)
    log = find_try_log(session, ctx.log_folder, ti, try_number)
    chunk = read_log(log.path, offset, over=log.over, masker=ctx.secrets.masker())
    if "text/plain" in request.headers.get("accept", ""):
        headers = {"X-Log-Offset": str(chunk.offset),
                   "X-Log-Finished": "true" if chunk.finished else "false"}  # fmt: skip
        return PlainTextResponse(chunk.content, headers=headers)
    body = LogOut(try_number=try_number, content=chunk.content, offset=chunk.offset,
                  finished=chunk.finished)  # fmt: skip
    return JSONResponse(body.model_dump())
