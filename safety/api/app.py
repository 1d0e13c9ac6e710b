"""The FastAPI app factory: routes, auth, upload limits, and one mapping of our errors to HTTP."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import safety
from safety.api import dashboard
from safety.api.guard import ApiGuard
from safety.api.routes import audit, c2pa, generations, moderations, review, verifications
from safety.api.state import AppState
from safety.api.uploads import BodyLimitMiddleware, clean_leftover_uploads
from safety.errors import SealFrameError
from safety.settings import Settings, get_settings
from safety.store.db import check_database

log = logging.getLogger("sealframe.api")


DOCS_ASSETS = "/docs-assets"
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'")


def add_local_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc from the assets packaged in `fastapi-offline`, so they work offline."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    try:
        import fastapi_offline
    except ImportError:  # pragma: no cover - a dependency; without it there are no docs pages
        return
    static = Path(fastapi_offline.__file__).parent / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=static), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="SealFrame API",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> Response:
        return get_redoc_html(openapi_url="/openapi.json", title="SealFrame API",
                              redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png", with_google_fonts=False)


class SecurityHeaders:
    """nosniff, no framing, a Content-Security-Policy and Cache-Control on every response (unless set)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        docs = path in ("/docs", "/redoc") or path.startswith(DOCS_ASSETS)
        extra = {b"x-content-type-options": b"nosniff", b"x-frame-options": b"DENY",
                 b"referrer-policy": b"no-referrer",
                 b"content-security-policy": (DOCS_CSP if docs else API_CSP).encode(),
                 b"cache-control": b"public, max-age=3600" if path.startswith(DOCS_ASSETS) else b"no-store"}

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in extra.items() if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def public_message(message: str, home: Path) -> str:
    """An error message without the server's folders (an upload is named "upload")."""
    uploads = str(home / "uploads")
    message = re.sub(re.escape(uploads) + r"/(?:\d+/)?upload-[^\s:]*", "upload", message)
    return message.replace(str(home), "$SEALFRAME_HOME")


def create_app(settings: Settings | None = None) -> FastAPI:
    state = AppState(settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        removed = clean_leftover_uploads(state.settings.home)
        if removed:
            log.info("removed %d upload(s) left by a stopped process", removed)
        state.start()
        yield
        state.stop()

    app = FastAPI(
        docs_url=None, redoc_url=None,  # served below from packaged assets, never from a CDN
        title="SealFrame",
        version=safety.__version__,
        description="Safe generation, verification and audits for AI video. Authenticate with "
                    "`Authorization: Bearer <api key>` (`sealframe apikey create --role ...`).",
        lifespan=lifespan,
    )
    app.state.sealframe = state
    add_local_docs(app)
    # Outermost last: the guard checks the key before the body limit lets any body through.
    s = state.settings
    app.add_middleware(BodyLimitMiddleware, media_limit=lambda: state.max_upload_bytes,
                       json_limit=s.max_json_bytes, body_timeout=s.body_timeout_s)
    app.add_middleware(ApiGuard, state=state)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(SealFrameError)
    async def sealframe_error(request: Request, exc: SealFrameError) -> JSONResponse:
        status = exc.http_status if 400 <= exc.http_status < 600 else 500
        return JSONResponse({"detail": public_message(str(exc), state.settings.home)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # Without the echoed input: it may be megabytes, or hold text no UTF-8 body can carry.
        detail = [{k: v for k, v in e.items() if k != "input"} for e in exc.errors()]
        body = json.dumps({"detail": jsonable_encoder(detail)}, ensure_ascii=True)
        return Response(body, status_code=422, media_type="application/json")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "version": safety.__version__}

    @app.get("/readyz", tags=["service"], responses={503: {"description": "not ready (the reason in detail)"}})
    def readyz() -> JSONResponse:
        """Readiness: the database answers and passes SQLite's quick integrity check."""
        problem = check_database(state.store)
        if problem is not None:
            return JSONResponse({"status": "not ready", "detail": problem}, status_code=503)
        return JSONResponse({"status": "ready", "version": safety.__version__})

    for module in (moderations, generations, review, verifications, c2pa, audit):
        app.include_router(module.router)
    app.include_router(dashboard.router)
    return app
