"""Typed dependencies: the app state, the caller's API key, and role checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from safety.api.state import AppState
from safety.store import ApiKey
from safety.store.apikeys import find_api_key

_bearer = HTTPBearer(auto_error=False, description="An API key from `sealframe apikey create`.")


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.sealframe
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def current_key(
    state: StateDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> ApiKey:
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(401, "missing API key: send Authorization: Bearer <key>",
                            headers={"WWW-Authenticate": "Bearer"})
    key = find_api_key(state.store, creds.credentials)
    if key is None:
        raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    wait = state.limiter.allow(key.id, key.rate_limit_per_minute)
    if wait > 0:
        raise HTTPException(429, f"rate limit of {key.rate_limit_per_minute} requests per minute exceeded",
                            headers={"Retry-After": str(max(1, round(wait)))})
    return key


KeyDep = Annotated[ApiKey, Depends(current_key)]


def require(*roles: str) -> Callable[[ApiKey], ApiKey]:
    """A dependency that lets `roles` (and admin) through and answers 403 to everyone else."""

    def check(key: KeyDep) -> ApiKey:
        if key.role != "admin" and key.role not in roles:
            raise HTTPException(403, f"this route needs the {' or '.join(roles)} role; this key is {key.role}")
        return key

    return check


ModeratorDep = Annotated[ApiKey, Depends(require("moderator"))]
AuditorDep = Annotated[ApiKey, Depends(require("auditor"))]


class ErrorOut(BaseModel):
    detail: Any


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route can answer (all as {"detail": ...})."""
    text = {400: "invalid query", 401: "missing, unknown or revoked API key", 403: "role not allowed",
            404: "not found", 409: "conflict with the current state", 413: "upload over the size limit",
            415: "not a supported media type", 422: "invalid input", 429: "rate limit exceeded",
            503: "a backing service is unavailable"}
    return {c: {"model": ErrorOut, "description": text[c]} for c in codes}

