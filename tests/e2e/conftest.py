"""Run the service as a real process (``python -m app`` under uvicorn) for end-to-end tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.app.conftest import API_KEYS, train
from tests.servers import ROOT, Server, free_port, start_server


@contextmanager
def service(env: Mapping[str, str], workdir: Path, *, ready: bool = True) -> Iterator[Server]:
    port = free_port()
    server = start_server(
        [sys.executable, "-m", "app"],
        url=f"http://127.0.0.1:{port}",
        ready_path="/readyz" if ready else "/healthz",
        ready_status=200,
        log=workdir / f"service-{port}.log",
        env={
            "STRATUS_PORT": str(port),
            "STRATUS_HOST": "127.0.0.1",
            "STRATUS_API_KEYS": API_KEYS,
            "STRATUS_WATCH_INTERVAL_S": "0",
            "PYTHONPATH": str(ROOT),
            **env,
        },
        timeout=120,
    )
    try:
        yield server
    finally:
        server.stop()


def metric(url: str, line_start: str) -> float:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture(scope="session")
def slow_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store whose champion sleeps ~1 s per predict call."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from tests.app.conftest import MODEL_NAME, Trained, publish
    from tests.e2e.slow_model import slow_identity

    base = train(width=4)
    pipe = make_pipeline(
        FunctionTransformer(slow_identity), *[step for _, step in base.pipeline.steps]
    )
    pipe.fit(base.frame, base.pipeline.predict(base.frame))
    root = tmp_path_factory.mktemp("slow-store")
    publish(str(root), Trained(pipe, base.frame), "1", name=MODEL_NAME)
    return str(root)


@pytest.fixture(scope="session")
def quick_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store whose champion answers at once (the 4-feature logistic pipeline)."""
    from tests.app.conftest import MODEL_NAME, publish

    root = tmp_path_factory.mktemp("quick-store")
    publish(str(root), train(width=4), "1", name=MODEL_NAME)
    return str(root)
