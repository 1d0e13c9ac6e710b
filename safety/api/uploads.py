"""Uploads go to disk in chunks, and the size limit is enforced while the bytes arrive."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safety.errors import MediaTooLargeError

CHUNK = 1 << 20
# multipart framing around the file part: boundaries and part headers
MULTIPART_SLACK = 64 * 1024
# Routes whose body is a video (everything else is a small JSON or form body).
MEDIA_ROUTES = frozenset({("POST", "/v1/verifications"), ("POST", "/c2pa/v1/matches/byContent"),
                          ("POST", "/dashboard/verify")})
# The dashboard's backtest takes a policy pack (YAML) as a form field.
FORM_ROUTES = {("POST", "/dashboard/audit/backtest"): 1 << 20}


class _BodyRefused(Exception):
    """Raised into the app from `receive` once the body broke a limit; the middleware answers."""


class BodyLimitMiddleware:
    """Per-route body limits and a body timeout, enforced before and while the bytes arrive.

    A body over its route's limit is refused with 413: by Content-Length before anything is read,
    else as soon as the running count passes it (chunked uploads included). Whatever the app then
    answers (a multipart parser reports the cut-off body as 400) is replaced by the 413. A client
    that stops sending mid-body gets 408 after `body_timeout` seconds.
    """

    def __init__(self, app: ASGIApp, media_limit: Callable[[], int], json_limit: int,
                 body_timeout: float = 30.0) -> None:
        self.app = app
        self.media_limit = media_limit  # a callable, so the policy pack's current value applies
        self.json_limit = json_limit
        self.body_timeout = body_timeout

    def limit_for(self, scope: Scope) -> int:
        route = (scope.get("method", ""), scope.get("path", ""))
        if route in MEDIA_ROUTES:
            return int(self.media_limit()) + MULTIPART_SLACK
        return FORM_ROUTES.get(route, self.json_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await send_json(send, 413, f"request body exceeds the limit of {limit} bytes for this route")
            return
        seen = 0
        refused: tuple[int, str] | None = None
        started = False

        async def counted() -> Message:
            nonlocal seen, refused
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError:
                refused = (408, f"no request body data for {self.body_timeout:g} s")
                raise _BodyRefused from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = (413, f"request body exceeds the limit of {limit} bytes for this route")
                    raise _BodyRefused
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused is not None:
                return  # the app's own answer to a cut-off body; ours goes out below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except _BodyRefused:
            pass
        except Exception:
            if refused is None:
                raise
        if refused is not None and not started:
            await send_json(send, *refused)


async def send_json(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """Answer `{"detail": detail}` with `status` straight from a middleware."""
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           (b"connection", b"close")]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def upload_dir(home: Path) -> Path:
    """This process's upload folder: uploads/<pid>, so a later start can tell leftovers from live uploads."""
    return home / "uploads" / str(os.getpid())


def clean_leftover_uploads(home: Path) -> int:
    """Delete uploads left by processes that are gone (killed mid-upload); returns how many files."""
    root = home / "uploads"
    removed = 0
    if not root.is_dir():
        return 0
    for entry in root.iterdir():
        if entry.is_dir() and entry.name.isdigit():
            if entry.name != str(os.getpid()) and not _alive(int(entry.name)):
                removed += sum(1 for f in entry.iterdir() if f.is_file())
                shutil.rmtree(entry, ignore_errors=True)
        elif entry.is_file() and entry.name.startswith("upload-"):
            entry.unlink(missing_ok=True)  # the flat layout of earlier versions
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def save_stream(chunks: AsyncIterator[bytes], folder: Path, max_bytes: int, suffix: str = ".mp4") -> Path:
    """Write an async byte stream to a new file under `folder`, refusing it past `max_bytes`."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fh = tempfile.NamedTemporaryFile(dir=folder, prefix="upload-", suffix=suffix, delete=False)  # noqa: SIM115
    path = Path(fh.name)
    total = 0
    try:
        with fh:
            async for chunk in chunks:
                total += len(chunk)
                if total > max_bytes:
                    raise MediaTooLargeError(f"upload exceeds the limit of {max_bytes} bytes")
                fh.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
