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

import safety
from safety.api import dashboard
from safety.api.guard import ApiGuard
from safety.api.routes import audit, c2pa, generations, moderations, review, verifications
from safety.api.state import AppState
from safety.api.uploads import BodyLimitMiddleware
from safety.errors import SealFrameError
from safety.settings import Settings, get_settings

log = logging.getLogger("sealframe.api")


def public_message(message: str, home: Path) -> str:
    """An error message without the server's folders (an upload is named "upload")."""
    uploads = str(home / "uploads")
    message = re.sub(re.escape(uploads) + r"/upload-[^\s:]*", "upload", message)
    return message.replace(str(home), "$SEALFRAME_HOME")


def create_app(settings: Settings | None = None) -> FastAPI:
    state = AppState(settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start()
        yield
        state.stop()

    app = FastAPI(
        title="SealFrame",
        version=safety.__version__,
        description="Safe generation, verification and audits for AI video. Authenticate with "
                    "`Authorization: Bearer <api key>` (`sealframe apikey create --role ...`).",
        lifespan=lifespan,
    )
    app.state.sealframe = state
    # Outermost last: the guard checks the key before the body limit lets any body through.
    s = state.settings
    app.add_middleware(BodyLimitMiddleware, media_limit=lambda: state.max_upload_bytes,
                       json_limit=s.max_json_bytes, body_timeout=s.body_timeout_s)
    app.add_middleware(ApiGuard, state=state)

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
        return {"status": "ok", "version": safety.__version__}

    for module in (moderations, generations, review, verifications, c2pa, audit):
        app.include_router(module.router)
    app.include_router(dashboard.router)
    return app
