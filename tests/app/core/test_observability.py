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
