"""OpenTelemetry tracing, on when an OTLP endpoint is configured (spans exported over OTLP/HTTP)."""

from __future__ import annotations

import os
from typing import Any

from app.core.config import Settings


class Tracing:
    def __init__(self, tracer: Any, provider: Any) -> None:
        self.tracer = tracer
        self.provider = provider

    def shutdown(self) -> None:
        self.provider.shutdown()


def setup_tracing(settings: Settings) -> Tracing | None:
    endpoint = settings.otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    traces_url = endpoint.rstrip("/")
    if not traces_url.endswith("/v1/traces"):
        traces_url += "/v1/traces"
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url), schedule_delay_millis=500)
    )
    return Tracing(provider.get_tracer("stratus.inference"), provider)
