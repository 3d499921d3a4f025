"""The rollout's smoke test against a real inference service (``python -m app``) serving a model
trained on the bundled data: a good deployment passes; a wrong model version, failed readiness
or a 5xx answer fails, saying what was wrong."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from infra.rollout.execute import StepFailedError
from infra.rollout.smoke import SmokeCase, SmokeTester
from tests.app.conftest import PREDICT_KEY, Trained, publish
from tests.e2e.conftest import service
from tests.servers import Server


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store whose champion (version 4) is a model of the bundled breast-cancer data."""
    data = load_breast_cancer(as_frame=True)
    frame = pd.DataFrame(data.data)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    pipeline.fit(frame, data.target)
    root = tmp_path_factory.mktemp("smoke-store")
    publish(str(root), Trained(pipeline, frame), "4")
    return str(root)


@pytest.fixture(scope="module")
def api(store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("smoke-service")
    with service({"STRATUS_MODEL_URI": f"{store}/stratus-classifier"}, workdir) as server:
        yield server


def test_the_shipped_case_passes_on_a_sound_deployment(api: Server) -> None:
    case = SmokeCase.load()
    with SmokeTester(api.url, PREDICT_KEY) as tester:
        assert tester.served_version("stratus-classifier") == "4"
        tester.check(case, "4")


def test_a_wrong_model_version_fails(api: Server) -> None:
    with (
        SmokeTester(api.url, PREDICT_KEY) as tester,
        pytest.raises(
            StepFailedError, match="serves version 4 of stratus-classifier, expected version 5"
        ),
    ):
        tester.check(SmokeCase.load(), "5")


def test_a_wrong_answer_fails(api: Server, tmp_path: Path) -> None:
    case = SmokeCase.load()
    flipped = tmp_path / "case.json"
    flipped.write_text(
        json.dumps({"model": case.model, "rows": case.rows, "expected": [1, 1, 0, 0]})
    )
    with (
        SmokeTester(api.url, PREDICT_KEY) as tester,
        pytest.raises(
            StepFailedError, match=r"/predict answered \[0, 0, 1, 1\] .* expected \[1, 1, 0, 0\]"
        ),
    ):
        tester.check(SmokeCase.load(flipped), "4")


def test_a_bad_key_fails_with_the_status(api: Server) -> None:
    with SmokeTester(api.url, "not-a-key") as tester, pytest.raises(StepFailedError, match="401"):
        tester.check(SmokeCase.load(), "4")


def test_failing_readiness_fails(tmp_path: Path) -> None:
    """A service whose model store is empty never becomes ready."""
    empty = tmp_path / "empty-store"
    empty.mkdir()
    with (
        service(
            {"STRATUS_MODEL_URI": f"{empty}/stratus-classifier"}, tmp_path, ready=False
        ) as server,
        SmokeTester(server.url, PREDICT_KEY) as tester,
        pytest.raises(StepFailedError, match="GET /readyz answered 503"),
    ):
        tester.check(SmokeCase.load(), "4")


class _Failing(BaseHTTPRequestHandler):
    """Ready, version 4, but every scoring call is a 500."""

    def _answer(self, status: int, body: object) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        if self.path.endswith("/ready"):
            self._answer(200, {"name": "stratus-classifier", "ready": True})
        elif self.path.startswith("/v2/models/"):
            self._answer(200, {"name": "stratus-classifier", "versions": ["4"]})
        else:
            self._answer(200, {"status": "ready"})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer(500, {"error": "internal error", "code": "internal"})

    def log_message(self, *_: object) -> None:
        pass


def test_a_5xx_answer_fails() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with (
            SmokeTester(url, PREDICT_KEY) as tester,
            pytest.raises(StepFailedError, match="POST /predict answered 500"),
        ):
            tester.check(SmokeCase.load(), "4")
    finally:
        server.shutdown()
        server.server_close()


def test_an_unreachable_endpoint_fails() -> None:
    with (
        SmokeTester("http://127.0.0.1:9", PREDICT_KEY, timeout=2) as tester,
        pytest.raises(StepFailedError, match=r"GET http://127\.0\.0\.1:9/readyz"),
    ):
        tester.check(SmokeCase.load(), "4")
