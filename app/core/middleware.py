"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs throughput): request id, access log,
request metrics and, when configured, one OpenTelemetry server span per request."""

from __future__ import annotations

import os
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.logging import AccessLog, request_id_var
from app.core.metrics import Metrics
from app.core.tracing import Tracing

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: W3C ``traceparent``: version, trace id, parent span id, flags.
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$")


def _trace_from_header(traceparent: str | None) -> tuple[str, bool] | None:
    """(trace id, sampled) of a well-formed ``traceparent`` header."""
    match = _TRACEPARENT.match(traceparent or "")
    if match is None or match.group(1) == "0" * 32:
        return None
    return match.group(1), bool(int(match.group(2), 16) & 1)


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        access_log: AccessLog | None,
        tracing: Tracing | None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = None
        traceparent = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _REQUEST_ID.match(candidate):
                    request_id = candidate
            elif name == b"traceparent":
                traceparent = value.decode("latin-1")
        if request_id is None:
            request_id = os.urandom(8).hex()
        token = request_id_var.set(request_id)
        header = (b"x-request-id", request_id.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        span = self._start_span(scope, traceparent) if self.tracing else None
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            route = _route_label(scope)
            method = scope["method"]
            self.metrics.observe_request(route, method, status, elapsed)
            trace = None
            if span is not None:
                trace = self._end_span(span, method, route, status, request_id)
            if self.access_log is not None:
                client = scope.get("client")
                entry = {
                    "request_id": request_id,
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "client": client[0] if client else None,
                    "model_version": self.metrics.model_version,
                }
                # The trace id links a log line to its trace (Kibana → Jaeger).
                trace = trace or _trace_from_header(traceparent)
                if trace is not None:
                    entry["trace_id"], entry["trace_sampled"] = trace
                self.access_log.write(entry)
            request_id_var.reset(token)

    def _start_span(self, scope: Scope, traceparent: str | None) -> Any:
        from opentelemetry import context, propagate, trace

        assert self.tracing is not None
        parent = propagate.extract({"traceparent": traceparent}) if traceparent else None
        span = self.tracing.tracer.start_span(
            f"{scope['method']} {scope['path']}", context=parent, kind=trace.SpanKind.SERVER
        )
        span.set_attribute("http.request.method", scope["method"])
        span.set_attribute("url.path", scope["path"])
        return span, context.attach(trace.set_span_in_context(span))

    @staticmethod
    def _end_span(
        started: Any, method: str, route: str, status: int, request_id: str
    ) -> tuple[str, bool] | None:
        """End the request's span; its (trace id, sampled)."""
        from opentelemetry import context, trace

        span, token = started
        span_context = span.get_span_context()

        # A span the sampler dropped records nothing (and has no attributes to read).
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("stratus.request_id", request_id)
        if status >= 500:
            span.set_status(trace.StatusCode.ERROR)
        context.detach(token)
        span.end()
        if not span_context.is_valid:
            return None
        return format(span_context.trace_id, "032x"), bool(span_context.trace_flags.sampled)
