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

The protocol also sends each response's status line and headers together with the first bytes of
its body. uvicorn writes them to the socket separately, and each write is a ``send`` system call
and a TCP segment of its own; on a small scoring response that second call cost about a tenth of
the service's CPU time per request (``bench.inference``). The bytes on the wire are unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from app.core.config import Settings


class _HeadersWithBody:
    """One response's view of the connection's transport: holds the status line and headers
    (the first write once the response has started) until the body's first write, and sends
    both in one write. Held bytes go out at the latest when the response completes (a ``HEAD``
    response has no body write) or the connection is closed. Everything else is the transport's.
    """

    __slots__ = ("_complete", "_cycle", "_held", "_started", "_transport")

    def __init__(
        self,
        transport: asyncio.Transport,
        cycle: RequestResponseCycle,
        complete: Callable[[], None],
    ) -> None:
        self._transport = transport
        self._cycle = cycle
        self._complete = complete
        self._held: bytes | None = None
        self._started = False  # the headers were written (held or sent)

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            data = held + data
        elif not self._started and self._cycle.response_started:
            self._started = True  # "100 Continue" is written before the response starts
            self._held = data
            return
        self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def response_complete(self) -> None:
        self.flush()
        self._complete()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's headers, sending each
    response's headers with its body."""

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
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not previous:  # a new request (not an upgrade)
            transport = _HeadersWithBody(self.transport, cycle, cycle.on_response)
            cycle.transport = transport  # type: ignore[assignment]
            cycle.on_response = transport.response_complete

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


def protocol_class(header_timeout_s: float) -> type[HttpProtocol]:
    """An :class:`HttpProtocol` with this timeout (uvicorn instantiates the class)."""
    return type("HttpProtocol", (HttpProtocol,), {"header_timeout_s": header_timeout_s})


def run(application: Any, settings: Settings) -> None:
    """Serve ``application`` with the service's settings (uvloop, httptools, one worker)."""
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=protocol_class(settings.header_timeout_s),
        ws="none",  # no WebSocket routes: spares a worker importing a WebSocket library at start
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.graceful_timeout_s,
        timeout_keep_alive=settings.keep_alive_timeout_s,
        limit_concurrency=settings.limit_concurrency,
        server_header=False,
        proxy_headers=False,
    )
