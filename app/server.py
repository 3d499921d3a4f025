"""The HTTP server (uvicorn) and its limits against slow or greedy clients.

uvicorn times out idle keep-alive connections (``timeout_keep_alive``) and answers 503 past
``limit_concurrency`` open connections or requests in progress, but it has no limit on how long a
client may take to send a request's headers: a client that sends them a byte at a time holds its
connection (and, under ``limit_concurrency``, a slot) for as long as it likes. The protocol class
here adds that limit: a new connection must have sent a request's headers within
``header_timeout_s`` of connecting, and every later request within ``header_timeout_s`` of its
first byte; otherwise the server answers 408 and closes the connection.

The timer is only armed when a read ends with headers still incomplete, so a request whose
headers arrive in one piece (nearly all of them) costs one attribute check.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.core.config import Settings


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's headers."""

    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._awaiting_headers = True  # a new connection owes a request
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._awaiting_headers:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
        elif self._header_timer is None:
            self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_headers = True

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self._awaiting_headers or self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # not in the middle of a response
            message = f"the request headers did not arrive within {self.header_timeout_s:g}s"
            body = orjson.dumps({"error": message, "code": "request_timeout", "request_id": None})
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
            )
        self.transport.close()


def protocol_class(header_timeout_s: float) -> type[HeaderTimeoutProtocol]:
    """A :class:`HeaderTimeoutProtocol` with this timeout (uvicorn instantiates the class)."""
    return type(
        "HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout_s": header_timeout_s}
    )


def run(application: Any, settings: Settings) -> None:
    """Serve ``application`` with the service's settings (uvloop, httptools, one worker)."""
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=protocol_class(settings.header_timeout_s),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.graceful_timeout_s,
        timeout_keep_alive=settings.keep_alive_timeout_s,
        limit_concurrency=settings.limit_concurrency,
        server_header=False,
        proxy_headers=False,
    )
