from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from app.core.logging import JsonFormatter, request_id_var
from tests.app.conftest import (
    ADMIN_KEY,
    MODEL_NAME,
    PREDICT_KEY,
    Trained,
    auth,
    serve,
    settings_for,
)


def test_json_log_lines_carry_the_request_id() -> None:
    record = logging.LogRecord(
        "stratus.test", logging.INFO, __file__, 1, "hello %s", ("you",), None
    )
    record.model = "m"
    token = request_id_var.set("req-1")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hello you"
    assert line["request_id"] == "req-1"
    assert line["model"] == "m"
    assert line["level"] == "INFO"


def test_access_and_audit_logs(
    store: str, logistic: Trained, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    stream = io.BytesIO()
    with serve(settings_for(f"{store}/{MODEL_NAME}", access_log=True)) as client:
        client.app.state.access_log.stream = stream  # type: ignore[attr-defined]
        client.post(
            "/predict",
            json={"instances": logistic.rows(1)},
            headers={"X-Request-ID": "r-42", **auth(PREDICT_KEY)},
        )
        client.post(
            "/predict", json={"instances": logistic.rows(1)}, headers={"X-API-Key": "guess-123"}
        )
        client.get("/admin/model", headers=auth(PREDICT_KEY))
        client.post("/admin/reload", headers=auth(ADMIN_KEY))
    formatted = [JsonFormatter().format(r) for r in caplog.records]
    access = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(access) == 4
    assert all(a["logger"] == "stratus.access" for a in access)
    assert any(
        a["request_id"] == "r-42" and a["status"] == 200 and a["route"] == "/predict"
        for a in access
    )
    audit = [json.loads(f) for f in formatted if '"stratus.audit"' in f]
    events = [(a["event"], a.get("reason") or a.get("outcome") or a.get("role")) for a in audit]
    assert ("auth_failure", "invalid_key") in events
    assert ("auth_forbidden", "admin") in events
    assert ("admin_reload", "unchanged") in events
    for line in [*formatted, stream.getvalue().decode()]:  # keys are never logged
        assert PREDICT_KEY not in line
        assert ADMIN_KEY not in line
        assert "guess-123" not in line


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[ExportTraceServiceRequest]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        self.received.append(message)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_spans_are_exported_over_otlp(store: str, logistic: Trained, collector: str) -> None:
    _Collector.received.clear()
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    with serve(settings_for(f"{store}/{MODEL_NAME}", otlp_endpoint=collector)) as client:
        answer: TestClient = client
        answer.post(
            "/predict",
            json={"instances": logistic.rows(1)},
            headers={"traceparent": f"00-{trace_id}-b7ad6b7169203331-01", **auth()},
        )
    spans = [
        span
        for request in _Collector.received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    predict = [s for s in spans if s.name == "POST /predict"]
    assert predict, [s.name for s in spans]
    assert predict[0].trace_id.hex() == trace_id
    attributes = {a.key: a.value for a in predict[0].attributes}
    assert attributes["http.response.status_code"].int_value == 200


def _access_lines(stream: io.BytesIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_access_log_carries_the_model_version_and_the_callers_trace_id(
    store: str, logistic: Trained
) -> None:
    """Tracing off: the trace id still comes from the caller's ``traceparent`` (a Kibana line
    links to the upstream trace)."""
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    stream = io.BytesIO()
    with serve(settings_for(f"{store}/{MODEL_NAME}", access_log=True)) as client:
        client.app.state.access_log.stream = stream  # type: ignore[attr-defined]
        client.post(
            "/predict",
            json={"instances": logistic.rows(1)},
            headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01", **auth()},
        )
        client.post(
            "/predict",
            json={"instances": logistic.rows(1)},
            headers={"traceparent": "not-a-traceparent", **auth()},
        )
        client.app.state.access_log.flush()  # type: ignore[attr-defined]
    first, second = _access_lines(stream)
    assert first["model_version"] == second["model_version"] == "1"
    assert first["trace_id"] == trace_id
    assert first["trace_sampled"] is True
    assert "trace_id" not in second


@pytest.mark.parametrize(("ratio", "exported"), [("0", False), ("1", True)])
def test_the_sdk_sampler_variables_decide_which_requests_are_traced(
    store: str,
    logistic: Trained,
    collector: str,
    monkeypatch: pytest.MonkeyPatch,
    ratio: str,
    exported: bool,
) -> None:
    """What the -apps stack sets on the ML API (``OTEL_TRACES_SAMPLER``/``_ARG``): a sampled-out
    request is served as usual and still logs its trace id."""
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", ratio)
    _Collector.received.clear()
    stream = io.BytesIO()
    settings = settings_for(f"{store}/{MODEL_NAME}", otlp_endpoint=collector, access_log=True)
    with serve(settings) as client:
        client.app.state.access_log.stream = stream  # type: ignore[attr-defined]
        for _ in range(5):
            answer = client.post("/predict", json={"instances": logistic.rows(1)}, headers=auth())
            assert answer.status_code == 200
        client.app.state.access_log.flush()  # type: ignore[attr-defined]
    spans = [
        span
        for request in _Collector.received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
        if span.name == "POST /predict"
    ]
    assert len(spans) == (5 if exported else 0)
    lines = _access_lines(stream)
    assert len(lines) == 5
    assert all(len(str(line["trace_id"])) == 32 for line in lines)
    assert all(line["trace_sampled"] is exported for line in lines)
