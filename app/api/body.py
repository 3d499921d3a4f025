"""Hot-path request bodies: read raw bytes (bounded) and parse with orjson, no pydantic model."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from app.api.errors import ApiError


async def read_json(request: Request, limit: int) -> Any:
    content_type = request.headers.get("content-type")
    if content_type is not None and "json" not in content_type.lower():
        raise ApiError(
            415, "unsupported_media_type", f"send application/json, not {content_type!r}"
        )
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
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None


def json_response(content: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY),
        status,
        media_type="application/json",
    )
