"""Start and stop the real servers the tests use (MLflow, moto S3, Azurite Blob) on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]

#: Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server process and its base URL."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)


def start_server(
    command: Sequence[str],
    *,
    url: str,
    ready_path: str,
    log: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 90.0,
    ready_status: int | None = None,
) -> Server:
    """Start ``command`` in its own process group and wait until ``url + ready_path`` answers."""
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("wb")
    process = subprocess.Popen(
        list(command),
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    server = Server(url=url, process=process, log=log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited early:\n{log.read_text()[-4000:]}")
        try:
            response = httpx.get(url + ready_path, timeout=2.0)
            if ready_status is None or response.status_code == ready_status:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{command[0]} not ready after {timeout}s:\n{log.read_text()[-4000:]}")


@contextmanager
def mlflow_server(workdir: Path, backend_uri: str | None = None) -> Iterator[Server]:
    """A real ``mlflow server`` (sqlite by default) serving artifacts from ``workdir``."""
    port = free_port()
    backend = backend_uri or f"sqlite:///{workdir / 'mlflow.db'}"
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", backend,
        "--artifacts-destination", str(workdir / "artifacts"),
        "--serve-artifacts",
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    server = start_server(
        command, url=f"http://127.0.0.1:{port}", ready_path="/health",
        log=workdir / "mlflow-server.log", ready_status=200, timeout=180.0,
    )  # fmt: skip
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def moto_server(workdir: Path) -> Iterator[Server]:
    """A real moto server speaking the S3 API."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    server = start_server(
        command, url=f"http://127.0.0.1:{port}", ready_path="/moto-api/",
        log=workdir / "moto.log",
    )  # fmt: skip
    try:
        yield server
    finally:
        server.stop()


def azurite_binary() -> str:
    local = ROOT / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    found = shutil.which("azurite-blob")
    if found is None:
        raise RuntimeError(
            "azurite-blob not found: run `npm ci` in the repository root (make test does)"
        )
    return found


def azurite_connection_string(url: str) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={url}/{AZURITE_ACCOUNT};"
    )


@contextmanager
def azurite_server(workdir: Path) -> Iterator[Server]:
    """A real Azurite Blob server (npm ``azurite``)."""
    port = free_port()
    data = workdir / "azurite"
    data.mkdir(parents=True, exist_ok=True)
    command = [
        azurite_binary(), "--blobHost", "127.0.0.1", "--blobPort", str(port),
        "--location", str(data), "--skipApiVersionCheck", "--loose", "--silent",
    ]  # fmt: skip
    server = start_server(
        command, url=f"http://127.0.0.1:{port}", ready_path=f"/{AZURITE_ACCOUNT}?comp=list",
        log=workdir / "azurite.log",
    )  # fmt: skip
    try:
        yield server
    finally:
        server.stop()
