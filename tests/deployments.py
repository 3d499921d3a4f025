"""Local stand-ins for the clouds' deployments of the inference service, for the failover drill
(``tests/platform/traffic/test_drill.py`` and ``python -m bench.failover``).

Each is ``python -m app`` on 127.0.0.1 serving from one cloud's model store (the moto S3 server for
"aws", the Azurite server for "azure"), restartable on the same port, and able to have its store
broken and repaired (``training.sync``, from the other cloud's store).
"""

from __future__ import annotations

import os
import posixpath
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.servers import ROOT, Server, free_port, start_server
from training.bundle import open_store, read_pointer
from training.sync import sync_stores


class LocalDeployment:
    """One cloud's ML API: a real service process and the store it serves from."""

    def __init__(
        self,
        name: str,
        *,
        store: str,
        model: str,
        env: Mapping[str, str],
        workdir: Path,
        repair_from: str,
    ) -> None:
        self.name = name
        self.store = store
        self.model = model
        self.env = dict(env)
        self.workdir = workdir
        self.repair_from = repair_from
        self._port = free_port()
        self._server: Server | None = None
        self._replacement: tuple[int, Server] | None = None
        self._stopping: list[threading.Thread] = []
        self._starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def _launch(self, port: int, *, ready: bool) -> Server:
        self._starts += 1
        return start_server(
            [sys.executable, "-m", "app"],
            url=f"http://127.0.0.1:{port}",
            ready_path="/readyz" if ready else "/healthz",
            ready_status=200,
            log=self.workdir / f"{self.name}-{self._starts}.log",
            env={
                "STRATUS_PORT": str(port),
                "STRATUS_HOST": "127.0.0.1",
                "STRATUS_AUTH_MODE": "disabled",
                "STRATUS_MODEL_URI": f"{self.store}/{self.model}",
                "STRATUS_WATCH_INTERVAL_S": "1",
                "STRATUS_ACCESS_LOG": "false",
                "PYTHONPATH": str(ROOT),
                **self.env,
            },
            timeout=120,
        )

    def start(self) -> None:
        self._server = self._launch(self._port, ready=True)

    def kill(self) -> None:
        if self._server is not None and self._server.process.poll() is None:
            os.killpg(self._server.process.pid, signal.SIGKILL)
            self._server.process.wait(30)

    def start_replacement(self) -> None:
        """A fresh process on another port, alive (it may not load the model)."""
        port = free_port()
        self._replacement = (port, self._launch(port, ready=False))

    def switch_to_replacement(self) -> None:
        """The endpoint answers from the fresh process at once; the old one drains (SIGTERM) and
        stops in the background."""
        assert self._replacement is not None, "start_replacement() first"
        old = self._server
        self._port, self._server = self._replacement
        self._replacement = None
        if old is not None:
            stopping = threading.Thread(target=old.stop, name=f"stop-{self.name}")
            stopping.start()
            self._stopping.append(stopping)

    def break_store(self) -> None:
        """Overwrite one file of the champion's bundle: its checksum no longer matches."""
        fs, root = open_store(self.store)
        pointer = read_pointer(fs, root, self.model)
        victim = sorted(pointer.files)[0]
        fs.pipe_file(posixpath.join(root, pointer.bundle_path, victim), b"damaged")

    def repair_store(self) -> None:
        """``sync-stores`` from the other cloud's store, then wait until the process (its
        watcher re-reads the store every second) has loaded the model."""
        sync_stores(self.model, self.repair_from, self.store)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: not ready 120 s after the store was repaired")

    def stop(self) -> None:
        for thread in self._stopping:
            thread.join()
        self._stopping.clear()
        for server in (self._server, self._replacement[1] if self._replacement else None):
            if server is not None:
                server.stop()
        self._replacement = None


def train_and_publish(workdir: Path, stores: list[str], model: str, env: Mapping[str, str]) -> None:
    """One training run (``python -m training run``, the bundled data) publishing to every store."""
    command = [sys.executable, "-m", "training", "run", "--model-name", model, "--n-jobs", "1"]
    for store in stores:
        command += ["--store", store]
    workdir.mkdir(parents=True, exist_ok=True)
    # Its own MLflow (sqlite under workdir): no tracking URI or pipeline setting leaks in from
    # the calling process (MLflow's set_tracking_uri exports MLFLOW_TRACKING_URI).
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLFLOW_", "STRATUS_"))
    }
    done = subprocess.run(
        command,
        cwd=workdir,
        env={**inherited, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"training run failed ({done.returncode}):\n{done.stderr[-4000:]}")


def predict_request() -> dict[str, list[list[float]]]:
    """One row of the bundled data, in the model's column order."""
    from sklearn.datasets import load_breast_cancer

    return {"instances": [load_breast_cancer().data[0].tolist()]}


def store_env(s3_url: str, blob_connection_string: str) -> dict[str, str]:
    """What a process needs to reach both clouds' stores (moto S3, Azurite)."""
    return {
        "AWS_ENDPOINT_URL": s3_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AZURE_STORAGE_CONNECTION_STRING": blob_connection_string,
    }


def prepare_clouds(
    workdir: Path, *, names: Mapping[str, str], env: Mapping[str, str], model: str
) -> dict[str, LocalDeployment]:
    """A models bucket on S3 and a models container on Blob, one training run publishing to both,
    and a deployment per cloud (``names``: cloud → endpoint name), not started yet. The stores
    must be reachable from this process too (``env`` set in ``os.environ``)."""
    import uuid

    import boto3
    import fsspec

    suffix = uuid.uuid4().hex[:8]
    boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"]).create_bucket(
        Bucket=f"models-{suffix}"
    )
    fsspec.filesystem("az").mkdir(f"models-{suffix}")
    stores = {"aws": f"s3://models-{suffix}/published", "azure": f"az://models-{suffix}/published"}
    train_and_publish(workdir / "training", list(stores.values()), model, env)
    return {
        names[cloud]: LocalDeployment(
            cloud,
            store=stores[cloud],
            model=model,
            env=env,
            workdir=workdir,
            repair_from=stores["azure" if cloud == "aws" else "aws"],
        )
        for cloud in ("aws", "azure")
    }
