"""The API's front door: the key is checked, and an upload's decoding slot taken, before any body is read.

FastAPI reads and parses a route's body before it resolves the route's dependencies, so a check
done only in a dependency lets an anonymous client make the server read and parse megabytes.
`ApiGuard` runs first, on the headers alone: no key, an unknown key or a spent rate limit is
answered (401/429) without touching the body; the key it found is handed to the route's
dependency through the request scope. Uploads that are decoded (verification, content match,
the dashboard's verify page) also need a free slot: a global and a per-key cap on concurrent
decodes, answered 503 or 429 with Retry-After when full, so memory is bounded by the slot count.
"""

from __future__ import annotations

import threading
from collections import Counter

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from safety.api.deps import authenticate
from safety.api.state import AppState
from safety.api.uploads import MEDIA_ROUTES, send_json

PUBLIC_API_PATHS = frozenset({"/c2pa/v1/services/supportedAlgorithms"})
API_PREFIXES = ("/v1/", "/c2pa/v1/")
SCOPE_KEY = "sealframe.api_key"
RETRY_AFTER_S = 5


def needs_key(path: str) -> bool:
    return path.startswith(API_PREFIXES) and path not in PUBLIC_API_PATHS


class DecodeSlots:
    """Counts uploads being decoded, in total and per owner; `take` refuses past either cap."""

    def __init__(self, total: int, per_owner: int) -> None:
        self.total, self.per_owner = total, per_owner
        self._busy: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, owner: str) -> int:
        """0 when a slot was taken, else the HTTP status to answer (429: this owner's cap, 503: the server's)."""
        with self._lock:
            if self._busy[owner] >= self.per_owner:
                return 429
            if sum(self._busy.values()) >= self.total:
                return 503
            self._busy[owner] += 1
            return 0

    def give(self, owner: str) -> None:
        with self._lock:
            self._busy[owner] -= 1
            if self._busy[owner] <= 0:
                del self._busy[owner]


class ApiGuard:
    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state
        s = state.settings
        self.slots = DecodeSlots(s.max_concurrent_verifications, s.max_concurrent_verifications_per_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        owner: str | None = None
        if needs_key(path):
            header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
            client = (scope.get("client") or ("unknown", 0))[0]
            try:
                key = await run_in_threadpool(authenticate, self.state, header, client, path)
            except HTTPException as exc:
                await send_json(send, exc.status_code, str(exc.detail), dict(exc.headers or {}))
                return
            scope[SCOPE_KEY] = key
            owner = key.id
        elif path.startswith("/dashboard/"):
            owner = "dashboard:" + str((scope.get("client") or ("unknown", 0))[0])
        if owner is None or (scope.get("method"), path) not in MEDIA_ROUTES:
            await self.app(scope, receive, send)
            return
        refused = self.slots.take(owner)
        if refused:
            why = ("this key already has an upload being verified" if refused == 429
                   else "the server is verifying as many uploads as it may at once")
            await send_json(send, refused, f"{why}; retry in {RETRY_AFTER_S} s",
                            {"Retry-After": str(RETRY_AFTER_S)})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.give(owner)
