"""The FastAPI app factory: routes, auth, upload limits, and one mapping of our errors to HTTP."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import safety
from safety.api import dashboard
from safety.api.routes import audit, c2pa, generations, moderations, review, verifications
from safety.api.state import AppState
from safety.api.uploads import BodyLimitMiddleware
from safety.errors import SealFrameError
from safety.settings import Settings, get_settings

log = logging.getLogger("sealframe.api")


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
    app.add_middleware(BodyLimitMiddleware, limit=lambda: state.max_upload_bytes)

    @app.exception_handler(SealFrameError)
    async def sealframe_error(request: Request, exc: SealFrameError) -> JSONResponse:
        status = exc.http_status if 400 <= exc.http_status < 600 else 500
        return JSONResponse({"detail": str(exc)}, status_code=status)

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
