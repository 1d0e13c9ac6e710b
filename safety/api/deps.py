"""Typed dependencies: the app state, the caller's API key, and role checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, Field

from safety.api.state import AppState
from safety.store import ApiKey
from safety.store.apikeys import find_api_key

_bearer = HTTPBearer(auto_error=False, description="An API key from `sealframe apikey create`.")


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.sealframe
    return state


StateDep = Annotated[AppState, Depends(get_state)]


REFUSED_AUDITS_PER_MINUTE = 10
"""Audit events for refused keys, per client address: a flood of bad keys cannot flood the log."""


def authenticate(state: AppState, authorization: str | None, client: str = "unknown", path: str = "") -> ApiKey:
    """The active key named by an `Authorization: Bearer` header, within its rate limit; else HTTPException."""
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise HTTPException(401, "missing API key: send Authorization: Bearer <key>",
                            headers={"WWW-Authenticate": "Bearer"})
    key = find_api_key(state.store, secret.strip())
    if key is None:
        if state.limiter.allow(f"refused-key:{client}", REFUSED_AUDITS_PER_MINUTE) == 0:
            state.audit.append("auth.refused", {"client": client, "path": path[:200]}, None)
        raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    wait = state.limiter.allow(key.id, key.rate_limit_per_minute)
    if wait > 0:
        raise HTTPException(429, f"rate limit of {key.rate_limit_per_minute} requests per minute exceeded",
                            headers={"Retry-After": str(max(1, round(wait)))})
    return key


def current_key(
    request: Request, state: StateDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    # The API guard has already checked the key (and counted it against the rate limit) before
    # the body was read; routes mounted without it check here.
    checked = request.scope.get("sealframe.api_key")
    if isinstance(checked, ApiKey):
        return checked
    header = f"{creds.scheme} {creds.credentials}" if creds is not None else None
    return authenticate(state, header, request.client.host if request.client else "unknown", request.url.path)


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


def _valid_unicode(text: str) -> str:
    # JSON's \ud800 escapes decode to lone surrogates, which no UTF-8 response or database can hold.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text holds a lone UTF-16 surrogate (invalid Unicode)") from None
    return text


Prompt = Annotated[str, Field(max_length=100_000), AfterValidator(_valid_unicode)]
"""A prompt as a route accepts it (the moderator then applies the policy pack's own length limit)."""


class ErrorOut(BaseModel):
    detail: Any


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route can answer (all as {"detail": ...})."""
    text = {400: "invalid query", 401: "missing, unknown or revoked API key", 403: "role not allowed",
            404: "not found", 408: "the request body stalled", 409: "conflict with the current state",
            413: "request body over the route's size limit",
            415: "not a supported media type", 422: "invalid input", 429: "rate limit exceeded",
            503: "busy (uploads being verified, generation queue) or a backing service is unavailable"}
    return {c: {"model": ErrorOut, "description": text[c]} for c in codes}

