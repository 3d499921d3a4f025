"""Every error is JSON: ``{"error": "<what is wrong>", "code": "<kind>", "request_id": ...}``.

``error`` is a string, as the Open Inference Protocol expects; ``code`` is stable for clients.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

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


Renderer = Callable[[Exception], Response]


class ErrorRenderer:
    """Turns any exception into the service's JSON error response.

    One table for both ways a request is served: FastAPI's exception handlers (installed by
    :func:`install_error_handlers`) and the scoring fast path (``app.api.fast_path``). Like
    Starlette's handler lookup, the most specific class in the exception's MRO wins.
    """

    def __init__(self, retry_after_s: int) -> None:
        retry = {"Retry-After": str(retry_after_s)}

        def api_error(exc: Exception) -> Response:
            assert isinstance(exc, ApiError)
            return error_response(exc.status, exc.code, exc.message, exc.headers)

        def validation(exc: Exception) -> Response:
            assert isinstance(exc, RequestValidationError)
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
                for e in exc.errors()
            )
            return error_response(422, "invalid_request", problems or "invalid request")

        def http_error(exc: Exception) -> Response:
            assert isinstance(exc, StarletteHTTPException)
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
            return error_response(exc.status_code, code, str(exc.detail), exc.headers)

        def unexpected(exc: Exception) -> Response:
            logger.exception("unhandled error", exc_info=exc)
            return error_response(500, "internal_error", "internal error; see the service log")

        self.renderers: dict[type[Exception], Renderer] = {
            ApiError: api_error,
            InputError: lambda exc: error_response(422, "invalid_input", str(exc)),
            AuthError: lambda exc: error_response(
                401, "unauthenticated", str(exc), {"WWW-Authenticate": "Bearer"}
            ),
            ModelNotReadyError: lambda exc: error_response(503, "not_ready", str(exc), retry),
            OverloadedError: lambda exc: error_response(
                503, "overloaded", f"the service is overloaded: {exc}", retry
            ),
            BatcherStoppedError: lambda exc: error_response(503, "shutting_down", str(exc), retry),
            RequestTimeoutError: lambda exc: error_response(504, "timeout", str(exc)),
            UnknownModelError: lambda exc: error_response(
                404, "unknown_model", str(exc).strip("'\"")
            ),
            PredictFailedError: lambda exc: error_response(
                422, "model_rejected_input", f"the model cannot score this input: {exc}"
            ),
            # 409: the served model is unchanged; the requested one cannot be loaded now
            ModelLoadError: lambda exc: error_response(409, "model_load_failed", str(exc)),
            RequestValidationError: validation,
            StarletteHTTPException: http_error,
            # the client left; nothing to answer
            ClientDisconnect: lambda exc: Response(status_code=499),
            Exception: unexpected,
        }

    def render(self, exc: Exception) -> Response:
        for cls in type(exc).__mro__:
            renderer = self.renderers.get(cls)
            if renderer is not None:
                return renderer(exc)
        return self.renderers[Exception](exc)  # not reached: every exception is an Exception


def install_error_handlers(app: FastAPI, errors: ErrorRenderer) -> None:
    """Register ``errors`` for each exception class it knows (``Exception`` lands in Starlette's
    ``ServerErrorMiddleware``, the others in its ``ExceptionMiddleware``)."""

    async def handler(_: Request, exc: Exception) -> Response:
        return errors.render(exc)

    for exc_class in errors.renderers:
        app.add_exception_handler(exc_class, handler)
