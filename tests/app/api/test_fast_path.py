"""The scoring fast path answers exactly like the FastAPI app it wraps, and is observed the same.

Each request is sent twice through one in-process app: once through the fast path (the app that
``create_app`` returns) and once straight into the FastAPI app inside it; status, body and headers
must be identical (a fixed ``X-Request-ID`` makes the request id identical too).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from starlette.datastructures import State
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.api.errors import ErrorRenderer
from app.api.fast_path import ScoringFastPath
from app.core.metrics import Metrics
from app.main import create_app
from app.serving.dataplane import DataPlane
from tests.app.conftest import (
    ADMIN_KEY,
    MODEL_NAME,
    PREDICT_KEY,
    auth,
    feature_names,
    settings_for,
)

ROWS = [[0.5, -1.0, 0.25, 2.0, -0.75, 1.5], [-0.2, 0.4, 1.1, -1.3, 0.0, 0.9]]
FEATURES = feature_names(6)
RECORDS = [dict(zip(FEATURES, row, strict=True)) for row in ROWS]
TENSOR = {"name": "input-0", "shape": [2, 6], "datatype": "FP64", "data": ROWS[0] + ROWS[1]}
JSON = {"Content-Type": "application/json"}
LIMIT = 2048


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


def _chunks(body: bytes) -> Iterator[bytes]:
    """A streamed body: sent chunked, without Content-Length."""
    yield from (body[i : i + 512] for i in range(0, len(body), 512))


class Case(NamedTuple):
    name: str
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str]
    streamed: bool = False  # sent chunked, without Content-Length


V2 = f"/v2/models/{MODEL_NAME}"
BEARER = {"Authorization": f"Bearer {PREDICT_KEY}"}
SPLIT = {"dataframe_split": {"columns": FEATURES, "data": ROWS}}
COLUMNS = {"inputs": {n: [r[i] for r in ROWS] for i, n in enumerate(FEATURES)}}
BIG = _json({"instances": [ROWS[0]] * 100})
# fmt: off
#: good and bad requests on the fast-path routes, then requests that FastAPI answers in both modes
CASES = [
    Case("predict rows", "POST", "/predict", _json({"instances": ROWS}), auth()),
    Case("predict records", "POST", "/predict", _json({"instances": RECORDS}), auth()),
    Case("predict bearer", "POST", "/predict", _json({"instances": ROWS}), BEARER),
    Case("predict streamed", "POST", "/predict", _json({"instances": ROWS}), auth(), True),
    Case("invocations split", "POST", "/invocations", _json(SPLIT), auth()),
    Case("invocations records", "POST", "/invocations", _json({"dataframe_records": RECORDS}),
         auth()),
    Case("invocations instances", "POST", "/invocations", _json({"instances": ROWS}), auth()),
    Case("invocations inputs", "POST", "/invocations", _json(COLUMNS), auth()),
    Case("v2 infer", "POST", f"{V2}/infer", _json({"id": "r1", "inputs": [TENSOR]}), auth()),
    Case("v2 version infer", "POST", f"{V2}/versions/1/infer",
         _json({"inputs": [TENSOR], "outputs": [{"name": "predict"}]}), auth()),
    Case("no key", "POST", "/predict", _json({"instances": ROWS}), {}),
    Case("wrong key", "POST", "/predict", _json({"instances": ROWS}), {"X-API-Key": "guess-1"}),
    Case("missing role", "POST", "/invocations", _json({"instances": ROWS}), auth(ADMIN_KEY)),
    Case("not json", "POST", "/predict", _json({"instances": ROWS}),
         {**auth(), "Content-Type": "text/plain"}),
    Case("empty body", "POST", "/predict", b"", auth()),
    Case("malformed json", "POST", "/invocations", b"{not json", auth()),
    Case("NaN", "POST", "/predict", b'{"instances": [[1, 2, 3, 4, 5, NaN]]}', auth()),
    Case("too large", "POST", "/predict", BIG, auth()),
    Case("too large streamed", "POST", "/predict", BIG, auth(), True),
    Case("wrong width", "POST", "/predict", _json({"instances": [[1, 2]]}), auth()),
    Case("unknown key", "POST", "/predict", _json({"instances": ROWS, "x": 1}), auth()),
    Case("not an object", "POST", "/invocations", b"[1, 2]", auth()),
    Case("missing feature", "POST", "/predict", _json({"instances": [{"feature 0": 1}]}), auth()),
    Case("unknown model", "POST", "/v2/models/nope/infer", _json({"inputs": [TENSOR]}), auth()),
    Case("unknown version", "POST", f"{V2}/versions/9/infer", _json({"inputs": [TENSOR]}),
         auth()),
    Case("bad tensor", "POST", f"{V2}/infer",
         _json({"inputs": [{**TENSOR, "shape": [3, 6]}]}), auth()),
    # not for the fast path
    Case("GET predict", "GET", "/predict", None, auth()),
    Case("HEAD invocations", "HEAD", "/invocations", None, auth()),
    Case("GET v2 infer", "GET", f"{V2}/infer", None, auth()),
    Case("trailing slash", "POST", "/predict/", _json({"instances": ROWS}), auth()),
    Case("v2 metadata", "GET", V2, None, auth()),
    Case("healthz", "GET", "/healthz", None, {}),
]
FAST_PATHS = {"/predict", "/invocations", f"{V2}/infer", f"{V2}/versions/1/infer",
              "/v2/models/nope/infer", f"{V2}/versions/9/infer"}
# fmt: on


class Switch:
    """Sends HTTP requests through the fast path, or straight to the FastAPI app inside it."""

    def __init__(self, fast: ScoringFastPath) -> None:
        self.fast = fast
        self.framework = False
        self.last: Scope = {}

    @property
    def state(self) -> State:
        return self.fast.state

    def routed_by_fastapi(self) -> bool:
        return "router" in self.last  # set by FastAPI's router on every request it routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.last = scope
            if self.framework:
                await self.fast.app(scope, receive, send)
                return
        await self.fast(scope, receive, send)


@pytest.fixture
def switch(store: str) -> Iterator[tuple[Switch, TestClient]]:
    fast = create_app(settings_for(f"{store}/{MODEL_NAME}", max_body_bytes=LIMIT), Metrics())
    both = Switch(fast)
    with TestClient(both, raise_server_exceptions=False) as client:
        yield both, client


def _send(client: TestClient, case: Case) -> Response:
    content: Any = case.body
    if case.streamed and case.body is not None:
        content = _chunks(case.body)
    return client.request(
        case.method,
        case.path,
        content=content,
        headers={
            **(JSON if case.body is not None else {}),
            "X-Request-ID": "same-id",
            **case.headers,
        },
        follow_redirects=False,
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fast_path_answers_like_fastapi(switch: tuple[Switch, TestClient], case: Case) -> None:
    both, client = switch
    both.framework = False
    fast = _send(client, case)
    took_fast_path = not both.routed_by_fastapi()
    both.framework = True
    framework = _send(client, case)
    assert both.routed_by_fastapi()

    assert took_fast_path == (case.method == "POST" and case.path in FAST_PATHS)
    assert fast.status_code == framework.status_code
    assert fast.content == framework.content
    assert fast.headers.multi_items() == framework.headers.multi_items()
    if fast.status_code >= 400 and case.method != "HEAD":
        error = fast.json()
        assert set(error) == {"error", "code", "request_id"}
        assert error["request_id"] == "same-id"


def test_expected_statuses(switch: tuple[Switch, TestClient]) -> None:
    """The comparison above covers good and bad answers, not just one kind."""
    _, client = switch
    statuses = {case.name: _send(client, case).status_code for case in CASES}
    assert statuses["predict rows"] == statuses["predict streamed"] == statuses["v2 infer"] == 200
    assert statuses["no key"] == statuses["wrong key"] == 401
    assert statuses["missing role"] == 403
    assert statuses["not json"] == 415
    assert statuses["empty body"] == statuses["malformed json"] == statuses["NaN"] == 400
    assert statuses["too large"] == statuses["too large streamed"] == 413
    assert statuses["wrong width"] == statuses["bad tensor"] == 422
    assert statuses["unknown model"] == statuses["unknown version"] == 404
    assert statuses["GET predict"] == statuses["HEAD invocations"] == 405
    assert statuses["trailing slash"] == 307


def test_not_ready_answers_alike(tmp_path_factory: pytest.TempPathFactory) -> None:
    empty = tmp_path_factory.mktemp("empty")
    both = Switch(create_app(settings_for(f"{empty}/{MODEL_NAME}"), Metrics()))
    case = Case("predict", "POST", "/predict", _json({"instances": ROWS}), auth())
    with TestClient(both, raise_server_exceptions=False) as client:
        fast = _send(client, case)
        both.framework = True
        framework = _send(client, case)
    assert fast.status_code == framework.status_code == 503
    assert fast.headers["retry-after"] == "1"
    assert fast.content == framework.content
    assert fast.headers.multi_items() == framework.headers.multi_items()


def test_an_unexpected_error_is_a_500_json(
    switch: tuple[Switch, TestClient],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(self: DataPlane, payload: Any) -> dict[str, Any]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(DataPlane, "predict", broken)
    both, client = switch
    case = Case("predict", "POST", "/predict", _json({"instances": ROWS}), auth())
    with caplog.at_level(logging.ERROR, logger="stratus.api"):
        fast = _send(client, case)
    both.framework = True
    framework = _send(client, case)
    assert fast.status_code == framework.status_code == 500
    expected = {"error": "internal error; see the service log", "code": "internal_error"}
    assert fast.json() == {**expected, "request_id": "same-id"}  # the fast path keeps the id
    assert {k: v for k, v in framework.json().items() if k != "request_id"} == expected
    assert fast.headers["x-request-id"] == "same-id"
    assert any(r.message == "unhandled error" and r.exc_info for r in caplog.records)


def test_fast_path_requests_are_counted_and_logged(store: str) -> None:
    stream = io.BytesIO()
    fast = create_app(settings_for(f"{store}/{MODEL_NAME}", access_log=True), Metrics())
    both = Switch(fast)
    with TestClient(both, raise_server_exceptions=False) as client:
        fast.state.access_log.stream = stream
        client.post("/predict", json={"instances": ROWS}, headers={"X-Request-ID": "r-1", **auth()})
        client.post("/predict", json={"instances": ROWS}, headers={"X-Request-ID": "r-2"})
        v2 = f"/v2/models/{MODEL_NAME}/infer"
        client.post(v2, json={"inputs": [TENSOR]}, headers={"X-Request-ID": "r-3", **auth()})
        assert not both.routed_by_fastapi()
        text = client.get("/metrics").text
    for route, status in (("/predict", 200), ("/predict", 401), ("/v2/models/{name}/infer", 200)):
        assert (
            f'stratus_requests_total{{method="POST",route="{route}",status="{status}"}} 1.0' in text
        )
        assert (
            f'stratus_request_duration_seconds_count{{method="POST",route="{route}",'
            f'status="{status}"}} 1.0' in text
        )
    access = {a["request_id"]: a for a in map(json.loads, stream.getvalue().splitlines())}
    assert {k: access["r-1"][k] for k in ("method", "path", "route", "status", "logger")} == {
        "method": "POST",
        "path": "/predict",
        "route": "/predict",
        "status": 200,
        "logger": "stratus.access",
    }
    assert access["r-2"]["status"] == 401
    assert (access["r-3"]["path"], access["r-3"]["route"]) == (v2, "/v2/models/{name}/infer")
    assert all(a["duration_ms"] > 0 and a["client"] for a in access.values())


def test_only_direct_routes_take_the_fast_path(store: str) -> None:
    fast = create_app(settings_for(f"{store}/{MODEL_NAME}"), Metrics())

    async def endpoint(request: Any) -> Any:
        return None

    with pytest.raises(TypeError, match="DirectRoute"):
        ScoringFastPath(
            fast.app,
            [Route("/x", endpoint, methods=["POST"])],
            errors=ErrorRenderer(1),
            metrics=Metrics(),
            access_log=None,
            tracing=None,
        )
