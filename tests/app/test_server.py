"""The HTTP protocol of ``app.server``: each response's headers leave in the same write as its
body (one ``send`` per small response), and the bytes on the wire are what uvicorn writes."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.server import protocol_class


class RecordingTransport(asyncio.Transport):
    """A transport that records each ``write`` (one write = one ``send`` on a socket)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        pass


async def _echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the body, answers with it: chunked for ``/stream`` (two parts), else one part."""
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part1", "more_body": True})
        await send({"type": "http.response.body", "body": b"part2"})
        return
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _exchange(
    protocol_cls: type[HttpToolsProtocol], request: bytes, *, settle: int = 20
) -> RecordingTransport:
    """Feeds ``request`` to a new connection and returns what the protocol wrote."""
    return asyncio.run(_connection(protocol_cls, request, settle))


async def _connection(
    protocol_cls: type[HttpToolsProtocol], request: bytes, settle: int
) -> RecordingTransport:
    config = uvicorn.Config(app=_echo_app, server_header=False, date_header=False, lifespan="off")
    config.load()
    protocol = protocol_cls(config=config, server_state=ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(request)
    for _ in range(settle):  # let the ASGI tasks run to completion
        await asyncio.sleep(0)
    protocol.connection_lost(None)
    return transport


POST = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"


def test_a_response_leaves_in_one_write_with_the_bytes_uvicorn_writes() -> None:
    ours = _exchange(protocol_class(10.0), POST)
    plain = _exchange(HttpToolsProtocol, POST)
    assert len(plain.writes) == 2  # uvicorn itself: headers, then body
    assert ours.writes == [b"".join(plain.writes)]
    assert ours.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert ours.writes[0].endswith(b"\r\n\r\nhello")


def test_pipelined_requests_each_get_one_write_in_order() -> None:
    second = POST.replace(b"hello", b"world")
    ours = _exchange(protocol_class(10.0), POST + second, settle=60)
    assert len(ours.writes) == 2
    assert ours.writes[0].endswith(b"hello")
    assert ours.writes[1].endswith(b"world")


def test_a_streamed_response_sends_headers_with_its_first_part() -> None:
    request = b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
    ours = _exchange(protocol_class(10.0), request)
    plain = _exchange(HttpToolsProtocol, request)
    assert b"".join(ours.writes) == b"".join(plain.writes)
    assert len(ours.writes) == len(plain.writes) - 1
    assert b"part1" in ours.writes[0]
    assert ours.writes[0].startswith(b"HTTP/1.1 200")


def test_a_head_response_still_sends_its_headers() -> None:
    request = b"HEAD /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    ours = _exchange(protocol_class(10.0), request)
    plain = _exchange(HttpToolsProtocol, request)
    assert b"".join(ours.writes) == b"".join(plain.writes)
    assert b"".join(ours.writes).startswith(b"HTTP/1.1 200")


def test_expect_100_continue_goes_out_before_the_response() -> None:
    request = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Expect: 100-continue\r\n\r\nhello"
    )
    ours = _exchange(protocol_class(10.0), request)
    assert ours.writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert len(ours.writes) == 2
    assert ours.writes[1].endswith(b"hello")
