"""Errors: ``application/problem+json`` (RFC 9457) for the API, an HTML page for the UI."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sluice.actions.common import ActionRefused
from sluice.core.errors import DagNotFound, SluiceError, TransitionError
from sluice.store.run_queries import DagRunNotFound, TaskInstanceNotFound

PROBLEM_JSON = "application/problem+json"
API_PREFIX = "/api/"

HtmlErrorPage = Callable[[Request, int, str, str], Response]
"""Renders an error for a page request: (request, status, title, detail)."""


class ApiError(Exception):
    """An error with its HTTP status and a sentence for the user."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}


class NotAuthenticated(ApiError):
    """No valid session, password or token: pages redirect to the login page."""

    def __init__(
        self, detail: str = "log in first: no valid session, password or API token"
    ) -> None:
        super().__init__(401, detail, headers={"WWW-Authenticate": 'Basic realm="sluice"'})


NOT_FOUND = (DagNotFound, DagRunNotFound, TaskInstanceNotFound)
CONFLICT = (ActionRefused, TransitionError)


def status_of(exc: SluiceError) -> int:
    """The HTTP status that a Sluice error means."""
    if isinstance(exc, NOT_FOUND):
        return 404
    if isinstance(exc, CONFLICT):
        return 409
    return 400


def problem(status: int, detail: str, *, title: str | None = None, **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body = {"type": "about:blank", "title": title or HTTPStatus(status).phrase, "status": status,
            "detail": detail, **extra}  # fmt: skip
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def is_api(request: Request) -> bool:
    """Whether the request is for the REST API (errors as JSON) rather than a page."""
    return request.url.path.startswith(API_PREFIX)


def install(app: FastAPI, html_error: HtmlErrorPage) -> None:
    """Answer every error as problem+json under /api/ and as ``html_error`` elsewhere."""

    def respond(request: Request, status: int, detail: str, title: str | None = None,
                headers: dict[str, str] | None = None, **extra: Any) -> Response:  # fmt: skip
        headers = dict(headers or {})
        if is_api(request):
            response: Response = problem(status, detail, title=title, **extra)
        else:
            response = html_error(request, status, title or HTTPStatus(status).phrase, detail)
            # A page answers with its login form: a Basic challenge would make the browser
            # pop up its own password dialog over the error page.
            headers.pop("WWW-Authenticate", None)
        response.headers.update(headers)
        return response

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return respond(request, exc.status, exc.detail, exc.title, exc.headers)

    @app.exception_handler(SluiceError)
    async def sluice_error(request: Request, exc: SluiceError) -> Response:
        return respond(request, status_of(exc), str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no page or endpoint at {request.url.path}"
        return respond(request, exc.status_code, detail, headers=dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [_field_error(error) for error in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return respond(request, 422, detail or "invalid request", errors=errors)


def _field_error(error: Any) -> dict[str, str]:
    if error.get("type") == "json_invalid":
        # Its location is a character position, not a field.
        position = error.get("loc", ("body", "?"))[-1]
        reason = (error.get("ctx") or {}).get("error", "not JSON")
        return {"field": "body", "message": f"not valid JSON at character {position}: {reason}"}
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    return {"field": ".".join(location) or "body", "message": str(error.get("msg", "invalid"))}
