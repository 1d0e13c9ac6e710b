"""`sealframe serve`: uvicorn with bounded connections, a header timeout, and forwarded headers only from proxies.

uvicorn closes idle keep-alive connections but waits forever for a request's headers, so a few
hundred slow clients hold as many connections open. `HeaderTimeoutH11` closes a connection whose
next request's headers are not complete within `header_timeout_s`; the body has its own timeout
(`BodyLimitMiddleware`). `X-Forwarded-For` and `-Proto` are believed only from the addresses in
`trusted_proxies` (uvicorn's default trusts 127.0.0.1, which let any local client pick its address).
"""

from __future__ import annotations

import asyncio

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from safety.settings import Settings


class HeaderTimeoutH11(H11Protocol):
    """h11 protocol that closes a connection when a request's headers arrive too slowly."""

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self._waiting_after = self.cycle  # headers of the request after this one are due
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.cycle is self._waiting_after and not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not self._waiting_after:
            self._disarm()  # a new request's headers are complete

    def on_response_complete(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self._arm()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def trusted_proxies(settings: Settings) -> list[str]:
    return [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]


def server_config(settings: Settings, host: str, port: int, access_log: bool = True) -> uvicorn.Config:
    from safety.api import create_app

    protocol = type("SealFrameH11", (HeaderTimeoutH11,), {"header_timeout": settings.header_timeout_s})
    proxies = trusted_proxies(settings)
    return uvicorn.Config(
        create_app(settings), host=host, port=port, log_level="info", access_log=access_log, http=protocol,
        proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None,
        limit_concurrency=settings.max_connections, timeout_keep_alive=5,
        h11_max_incomplete_event_size=32 * 1024,  # request line and headers
    )


def serve(settings: Settings, host: str, port: int, access_log: bool = True) -> None:
    uvicorn.Server(server_config(settings, host, port, access_log)).run()
