"""Hot-path request bodies: read raw bytes (bounded) and parse with orjson, no pydantic model."""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from app.api.errors import ApiError

#: the binary tensor extension's header: the length of the JSON part of the body
INFERENCE_HEADER = "inference-header-content-length"


def _check_json_type(request: Request) -> None:
    content_type = request.headers.get("content-type")
    if content_type is not None and "json" not in content_type.lower():
        raise ApiError(
            415, "unsupported_media_type", f"send application/json, not {content_type!r}"
        )


async def _read(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise ApiError(413, "body_too_large", f"the body exceeds the limit of {limit} bytes")
    if length is not None:
        body = await request.body()
    else:
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(
                    413, "body_too_large", f"the body exceeds the limit of {limit} bytes"
                )
            chunks.append(chunk)
        body = b"".join(chunks)
    if not body:
        raise ApiError(400, "empty_body", "the request body is empty; send a JSON object")
    return body


def _parse(body: bytes | memoryview, non_finite: bool = False) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if non_finite:
            try:  # Python's json, as MLflow's server: NaN, Infinity, integers beyond 64 bits
                return json.loads(bytes(body))
            except ValueError:
                pass
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None


async def read_json(request: Request, limit: int, *, non_finite: bool = False) -> Any:
    """The body as JSON. ``non_finite``: also take the ``NaN``/``Infinity`` tokens that Python's
    json writes (MLflow's client sends a missing value as ``NaN``); they then reach input
    validation as floats (NaN: a missing value; infinity: refused there)."""
    _check_json_type(request)
    return _parse(await _read(request, limit), non_finite)


async def read_inference_request(request: Request, limit: int) -> tuple[Any, memoryview]:
    """A V2 inference request: the JSON object and the binary tensor data after it.

    With the binary tensor extension the body is the JSON header (its length in the
    ``Inference-Header-Content-Length`` header) followed by the inputs' raw bytes; such a body may
    come as ``application/octet-stream``. Without that header the body is JSON only.
    """
    header = request.headers.get(INFERENCE_HEADER)
    if header is None:
        return await read_json(request, limit), memoryview(b"")
    content_type = request.headers.get("content-type")
    if content_type is not None and not any(
        kind in content_type.lower() for kind in ("json", "application/octet-stream")
    ):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send application/json or application/octet-stream, not {content_type!r}",
        )
    body = await _read(request, limit)
    if not header.isdigit() or not 0 < int(header) <= len(body):
        raise ApiError(
            400,
            "malformed_request",
            f"Inference-Header-Content-Length must be the length of the JSON part of the body "
            f"(1 to {len(body)} bytes)",
        )
    view = memoryview(body)
    json_length = int(header)
    return _parse(view[:json_length]), view[json_length:]


def json_response(content: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY),
        status,
        media_type="application/json",
    )


def inference_response(header: dict[str, Any], binary: list[bytes]) -> Response:
    """A V2 inference response; with binary outputs, the JSON header then their bytes."""
    if not binary:
        return json_response(header)
    encoded = orjson.dumps(header, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(
        b"".join([encoded, *binary]),
        200,
        {"Inference-Header-Content-Length": str(len(encoded))},
        media_type="application/octet-stream",
    )
