"""Uploads go to disk in chunks, and the size limit is enforced while the bytes arrive."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safety.errors import MediaTooLargeError

CHUNK = 1 << 20
# multipart framing around the file part: boundaries and part headers
MULTIPART_SLACK = 64 * 1024


class BodyLimitMiddleware:
    """Refuses a request body over the limit: by Content-Length before reading, else mid-stream."""

    def __init__(self, app: ASGIApp, limit: Any) -> None:
        self.app = app
        self.limit = limit  # a callable, so the policy pack's current value applies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = int(self.limit()) + MULTIPART_SLACK
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _too_large(send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise MediaTooLargeError(f"upload exceeds the limit of {limit - MULTIPART_SLACK} bytes")
            return message

        await self.app(scope, counted, send)


async def _too_large(send: Send, limit: int) -> None:
    body = b'{"detail":"upload exceeds the limit of %d bytes"}' % (limit - MULTIPART_SLACK)
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def save_stream(chunks: AsyncIterator[bytes], folder: Path, max_bytes: int, suffix: str = ".mp4") -> Path:
    """Write an async byte stream to a new file under `folder`, refusing it past `max_bytes`."""
    folder.mkdir(parents=True, exist_ok=True)
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
