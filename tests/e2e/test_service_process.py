"""The service as a real uvicorn process: graceful shutdown, overload, hot swap under load and a
tracking server that dies during a reload."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from tests import servers
from tests.app.conftest import ADMIN_KEY, MODEL_NAME, PREDICT_KEY, register, train
from tests.e2e.conftest import metric, service

pytestmark = pytest.mark.slow
PREDICT = {"X-API-Key": PREDICT_KEY}
ADMIN = {"X-API-Key": ADMIN_KEY}
ROWS = train(width=4).rows(1)


def test_sigterm_finishes_in_flight_requests_then_exits(slow_store: str, tmp_path: Path) -> None:
    env = {"STRATUS_MODEL_URI": f"{slow_store}/{MODEL_NAME}", "STRATUS_PREDICT_EXECUTOR": "thread"}
    with service(env, tmp_path) as server:
        answers: list[httpx.Response] = []
        worker = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{server.url}/predict", json={"instances": ROWS}, headers=PREDICT, timeout=30
                )
            )
        )
        worker.start()
        time.sleep(0.4)  # the request is in flight (the model takes ~1 s)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(httpx.ConnectError):  # no longer accepting
            httpx.get(f"{server.url}/healthz", timeout=2)
        worker.join(30)
        assert answers
        assert answers[0].status_code == 200
        assert answers[0].json()["predictions"]
        assert server.process.wait(30) == 0
    log = server.log.read_text()
    assert "service stopped" in log


def test_overload_answers_503_at_once(slow_store: str, tmp_path: Path) -> None:
    env = {
        "STRATUS_MODEL_URI": f"{slow_store}/{MODEL_NAME}",
        "STRATUS_PREDICT_EXECUTOR": "thread",
        "STRATUS_MAX_QUEUE": "1",
        "STRATUS_MAX_BATCH_SIZE": "1",
    }
    with service(env, tmp_path) as server:
        results: list[int] = []

        def call() -> None:
            answer = httpx.post(
                f"{server.url}/predict", json={"instances": ROWS}, headers=PREDICT, timeout=30
            )
            results.append(answer.status_code)

        busy = [threading.Thread(target=call) for _ in range(2)]
        for thread in busy:  # one predicting, one queued
            thread.start()
            time.sleep(0.2)
        started = time.monotonic()
        refused = httpx.post(
            f"{server.url}/predict", json={"instances": ROWS}, headers=PREDICT, timeout=30
        )
        elapsed = time.monotonic() - started
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["code"] == "overloaded"
        assert elapsed < 0.5
        for thread in busy:
            thread.join(30)
        assert sorted(results) == [200, 200]
        assert metric(server.url, 'stratus_rejected_requests_total{reason="queue_full"}') == 1


def test_hot_swap_under_load(mlflow_server: str, tmp_path: Path) -> None:
    name = "e2e-hot-swap"
    v1, v2 = train(width=4, seed=5), train(width=4, seed=5, flip=True)
    first = register(mlflow_server, v1, name=name)
    env = {
        "STRATUS_MODEL_URI": f"models:/{name}@champion",
        "STRATUS_MLFLOW_TRACKING_URI": mlflow_server,
        "STRATUS_WATCH_INTERVAL_S": "0.3",
    }
    rows = v1.rows(8)
    expected = {
        first: v1.pipeline.predict(v1.frame.head(8)).tolist(),
    }
    with service(env, tmp_path) as server:
        stop = threading.Event()
        failures: list[str] = []
        seen: dict[int, list[str]] = defaultdict(list)

        def client(index: int) -> None:
            with httpx.Client(base_url=server.url, headers=PREDICT, timeout=30) as http:
                while not stop.is_set():
                    try:
                        answer = http.post("/predict", json={"instances": rows})
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                        continue
                    if answer.status_code != 200:
                        failures.append(answer.text)
                        continue
                    body = answer.json()
                    version = body["model"]["version"]
                    if version in expected and body["predictions"] != expected[version]:
                        failures.append(f"v{version} answered {body['predictions']}")
                    seen[index].append(version)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        second = register(mlflow_server, v2, name=name)
        expected[second] = v2.pipeline.predict(v2.frame.head(8)).tolist()
        deadline = time.monotonic() + 60
        while not any(versions and versions[-1] == second for versions in seen.values()):
            assert time.monotonic() < deadline, "the new champion was not swapped in"
            time.sleep(0.1)
        time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join(30)
        assert failures == []
        for versions in seen.values():
            assert versions[0] == first
            assert versions[-1] == second
            switch = versions.index(second)
            assert set(versions[switch:]) == {second}  # never back to the old model
        assert metric(server.url, "stratus_model_swaps_total") == 1


def test_tracking_server_killed_during_reload(tmp_path: Path) -> None:
    name = "e2e-dead-tracking"
    v1, v2 = train(width=4, seed=6), train(width=4, seed=6, flip=True)
    with servers.mlflow_server(tmp_path / "mlflow") as tracking:
        first = register(tracking.url, v1, name=name)
        env = {
            "STRATUS_MODEL_URI": f"models:/{name}@champion",
            "STRATUS_MLFLOW_TRACKING_URI": tracking.url,
            "STRATUS_WATCH_INTERVAL_S": "3600",  # the reload below is the only one
        }
        with service(env, tmp_path) as server:
            register(tracking.url, v2, name=name)  # v2 becomes champion ...
            tracking.stop()  # ... and the tracking server dies before the service loads it
            answer = httpx.post(f"{server.url}/admin/reload", headers=ADMIN, timeout=60)
            assert answer.status_code == 409
            assert answer.json()["code"] == "model_load_failed"
            assert metric(server.url, "stratus_model_load_failures_total") == 1
            status = httpx.get(f"{server.url}/admin/model", headers=ADMIN).json()
            assert status["model"]["version"] == first
            assert status["last_error"]
            for _ in range(5):
                served = httpx.post(
                    f"{server.url}/predict", json={"instances": v1.rows(4)}, headers=PREDICT
                )
                assert served.status_code == 200
                assert served.json()["model"]["version"] == first
                assert (
                    served.json()["predictions"] == v1.pipeline.predict(v1.frame.head(4)).tolist()
                )
            assert httpx.get(f"{server.url}/readyz").status_code == 200


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.settimeout(0.2)
    return sock


def _read_until_closed(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing the connection, or None if it is still open."""
    received = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    return None


def test_a_client_sending_headers_slowly_is_cut_off(quick_store: str, tmp_path: Path) -> None:
    env = {"STRATUS_MODEL_URI": f"{quick_store}/{MODEL_NAME}", "STRATUS_HEADER_TIMEOUT_S": "1"}
    with service(env, tmp_path) as server:
        slow = _connect(server.url)
        slow.sendall(b"POST /predict HTTP/1.1\r\nHost: stratus\r\n")
        answer = b""
        for i in range(40):  # a header every 0.2 s: 8 s for all of them
            try:
                slow.sendall(b"X-Slow-%d: 1\r\n" % i)
                answer += slow.recv(4096)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if answer and answer.endswith(b"}"):
                break
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b'"code":"request_timeout"' in answer
        assert _read_until_closed(slow, 2) is not None
        slow.close()

        silent = _connect(server.url)  # connects and sends nothing
        assert (_read_until_closed(silent, 5) or b"").startswith(b"HTTP/1.1 408")
        silent.close()

        # headers that arrive in two pieces within the timeout are served as usual
        split = _connect(server.url)
        body = b'{"instances": [[0.1, 0.2, 0.3, 0.4]]}'
        split.sendall(b"POST /predict HTTP/1.1\r\nHost: stratus\r\nX-API-Key: ")
        time.sleep(0.3)
        split.sendall(
            PREDICT_KEY.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        split.settimeout(5)
        assert split.recv(4096).startswith(b"HTTP/1.1 200")
        split.close()


def test_idle_keep_alive_connections_are_closed(quick_store: str, tmp_path: Path) -> None:
    env = {"STRATUS_MODEL_URI": f"{quick_store}/{MODEL_NAME}", "STRATUS_KEEP_ALIVE_TIMEOUT_S": "1"}
    with service(env, tmp_path) as server:
        sock = _connect(server.url)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: stratus\r\n\r\n")
        response = b""
        deadline = time.monotonic() + 5
        while not response.endswith(b'{"status":"alive"}') and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                response += sock.recv(4096)
        assert response.startswith(b"HTTP/1.1 200")
        assert _read_until_closed(sock, 3.5) == b""  # closed after ~1 s idle (default 5 s)
        sock.close()


def test_connections_beyond_the_concurrency_limit_get_503(quick_store: str, tmp_path: Path) -> None:
    env = {
        "STRATUS_MODEL_URI": f"{quick_store}/{MODEL_NAME}",
        "STRATUS_LIMIT_CONCURRENCY": "3",
        "STRATUS_HEADER_TIMEOUT_S": "60",
    }
    with service(env, tmp_path) as server:
        body = {"instances": ROWS}
        assert httpx.post(f"{server.url}/predict", json=body, headers=PREDICT).status_code == 200
        idle = [_connect(server.url) for _ in range(2)]  # two open connections, no requests
        time.sleep(0.2)
        refused = httpx.post(f"{server.url}/predict", json=body, headers=PREDICT)
        assert refused.status_code == 503
        for sock in idle:
            sock.close()
        time.sleep(0.2)
        assert httpx.post(f"{server.url}/predict", json=body, headers=PREDICT).status_code == 200
