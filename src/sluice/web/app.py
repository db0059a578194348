"""The web application: pages and the REST API in one FastAPI app."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from sluice import __version__
from sluice.api import problems
from sluice.api.context import AppContext, secret_key
from sluice.api.login_limits import LoginLimiter
from sluice.config import Settings
from sluice.store.engine import Store
from sluice.web.rendering import STATIC, error_page

API_PREFIX = "/api/v1"
API_MODULES = (
    "meta", "dags", "dag_runs", "task_instances", "logs", "xcoms", "variables",
    "connections", "pools", "import_errors", "users", "checks",
)  # fmt: skip
PAGE_MODULES = (
    "auth", "dags", "dag_detail", "trigger", "task_instance", "browse", "variables",
    "connections", "pools", "users", "configuration", "checks",
)  # fmt: skip

# Scripts come from this server only (inline ones: the theme switch, Swagger UI's start).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
    " script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'"
)

API_DESCRIPTION = """Sluice's REST API.

Authenticate with the session cookie of the web UI, HTTP basic auth (username and
password), or `Authorization: Bearer <token>` with the API token a user makes on their
profile page. Errors are `application/problem+json` with a `detail` saying what went
wrong. Lists take `limit` and `offset` and return `items` and `total`.
"""


def create_app(settings: Settings, store: Store) -> FastAPI:
    """The application over ``store``; the caller keeps the store open while it serves."""
    app = FastAPI(
        title="Sluice",
        version=__version__,
        description=API_DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = AppContext(
        settings=settings,
        store=store,
        secret_key=secret_key(settings),
        limiter=LoginLimiter(settings.get_int("webserver", "login_attempts")),
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=app.state.ctx.secret_key,
        session_cookie="sluice_session",
        max_age=settings.get_int("webserver", "session_lifetime_minutes") * 60,
        same_site="lax",
        https_only=settings.get_bool("webserver", "cookie_secure"),
    )
    app.middleware("http")(_security_headers)
    problems.install(app, error_page)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for name in API_MODULES:
        module = importlib.import_module(f"sluice.api.v1.{name}")
        app.include_router(module.router, prefix=API_PREFIX)
    for name in PAGE_MODULES:
        module = importlib.import_module(f"sluice.web.pages.{name}")
        app.include_router(module.router)

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{API_PREFIX}/openapi.json",
            title="Sluice REST API",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    return app


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response
