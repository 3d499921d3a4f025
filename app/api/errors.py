"""Every error is JSON: ``{"error": "<what is wrong>", "code": "<kind>", "request_id": ...}``.

``error`` is a string, as the Open Inference Protocol expects; ``code`` is stable for clients.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from app.core.logging import request_id_var
from app.core.security import AuthError
from app.model.loaded import ModelLoadError
from app.serving.batcher import (
    BatcherStoppedError,
    OverloadedError,
    PredictFailedError,
    RequestTimeoutError,
)
from app.serving.codecs import InputError
from app.serving.dataplane import ModelNotReadyError, UnknownModelError

logger = logging.getLogger("stratus.api")


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    body = {"error": message, "code": code, "request_id": request_id_var.get()}
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def install_error_handlers(app: FastAPI, retry_after_s: int) -> None:
    retry = {"Retry-After": str(retry_after_s)}

    async def api_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    async def input_error(_: Request, exc: Exception) -> Response:
        return error_response(422, "invalid_input", str(exc))

    async def auth_error(_: Request, exc: Exception) -> Response:
        return error_response(401, "unauthenticated", str(exc), {"WWW-Authenticate": "Bearer"})

    async def not_ready(_: Request, exc: Exception) -> Response:
        return error_response(503, "not_ready", str(exc), retry)

    async def overloaded(_: Request, exc: Exception) -> Response:
        return error_response(503, "overloaded", f"the service is overloaded: {exc}", retry)

    async def stopping(_: Request, exc: Exception) -> Response:
        return error_response(503, "shutting_down", str(exc), retry)

    async def timed_out(_: Request, exc: Exception) -> Response:
        return error_response(504, "timeout", str(exc))

    async def unknown_model(_: Request, exc: Exception) -> Response:
        return error_response(404, "unknown_model", str(exc).strip("'\""))

    async def predict_failed(_: Request, exc: Exception) -> Response:
        return error_response(
            422, "model_rejected_input", f"the model cannot score this input: {exc}"
        )

    async def load_failed(_: Request, exc: Exception) -> Response:
        # 409: the served model is unchanged; the requested one cannot be loaded now
        return error_response(409, "model_load_failed", str(exc))

    async def validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return error_response(422, "invalid_request", problems or "invalid request")

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), exc.headers)

    async def disconnected(_: Request, exc: Exception) -> Response:
        return Response(status_code=499)  # the client left; nothing to answer

    async def unexpected(_: Request, exc: Exception) -> Response:
        logger.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "internal error; see the service log")

    handlers = {
        ApiError: api_error,
        InputError: input_error,
        AuthError: auth_error,
        ModelNotReadyError: not_ready,
        OverloadedError: overloaded,
        BatcherStoppedError: stopping,
        RequestTimeoutError: timed_out,
        UnknownModelError: unknown_model,
        PredictFailedError: predict_failed,
        ModelLoadError: load_failed,
        RequestValidationError: validation,
        StarletteHTTPException: http_error,
        ClientDisconnect: disconnected,
        Exception: unexpected,
    }
    for exc_class, handler in handlers.items():
        app.add_exception_handler(exc_class, handler)
