"""The inference image (app/Dockerfile) built by ``make images`` and run as a container."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import boto3
import cloudpickle  # type: ignore[import-untyped]
import httpx
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from tests.app.conftest import MODEL_NAME, PREDICT_KEY, Trained, publish, train
from tests.conftest import S3Endpoint
from tests.e2e import slow_model
from tests.images import podman
from tests.images.conftest import KEYS_PATH, RootFilesystem, readable_by_all
from tests.servers import free_port

pytestmark = [pytest.mark.images, pytest.mark.timeout(1800)]

SERVICE_UID = "10001"
#: the goal for the service image on the local stand-in base (Debian bookworm minbase + python3)
SIZE_BUDGET_BYTES = 500_000_000
STORE_MOUNT = "/models"


@pytest.fixture(scope="module")
def model() -> Trained:
    return train("logistic", width=5, seed=3)


@pytest.fixture(scope="module")
def local_store(tmp_path_factory: pytest.TempPathFactory, model: Trained) -> Path:
    root = tmp_path_factory.mktemp("image-store")
    publish(str(root), model, "1")
    return readable_by_all(root)


@pytest.fixture(scope="module")
def s3_store(s3_server: S3Endpoint, model: Trained, monkeypatch_module: pytest.MonkeyPatch) -> str:
    for key, value in s3_server.env().items():
        monkeypatch_module.setenv(key, value)
    boto3.client("s3", endpoint_url=s3_server.url).create_bucket(Bucket="image-models")
    url = "s3://image-models/published"
    publish(url, model, "7")
    return url


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@contextmanager
def service(
    image: str,
    model_uri: str,
    keys_file: Path,
    *,
    env: Mapping[str, str] | None = None,
    volumes: Sequence[tuple[Path, str]] = (),
) -> Iterator[tuple[podman.Container, str]]:
    """The service container (read-only root, API keys from a mounted file), ready."""
    port = free_port()
    options = podman.run_options(
        env={
            "STRATUS_PORT": str(port),
            "STRATUS_HOST": "127.0.0.1",
            "STRATUS_MODEL_URI": model_uri,
            "STRATUS_API_KEYS_FILE": KEYS_PATH,
            "STRATUS_WATCH_INTERVAL_S": "0",
            **(env or {}),
        },
        volumes=[(keys_file, KEYS_PATH), *volumes],
    )
    with podman.container(image, options=options) as running:
        url = f"http://127.0.0.1:{port}"
        running.wait_http(f"{url}/readyz")
        yield running, url


def predict(url: str, rows: list[list[float]]) -> httpx.Response:
    return httpx.post(
        f"{url}/predict",
        json={"instances": rows},
        headers={"X-API-Key": PREDICT_KEY},
        timeout=30.0,
    )


def test_serves_the_champion_from_a_mounted_store_as_non_root_on_a_read_only_root(
    images: podman.Images, local_store: Path, keys_file: Path, model: Trained
) -> None:
    with service(
        images.inference,
        f"{STORE_MOUNT}/{MODEL_NAME}",
        keys_file,
        volumes=[(local_store, STORE_MOUNT)],
    ) as (running, url):
        response = predict(url, model.rows(4))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model"] == {"name": MODEL_NAME, "version": "1"}
        expected = model.pipeline.predict(model.frame.head(4)).tolist()
        assert body["predictions"] == expected
        assert predict(url, [[1.0]]).status_code == 422  # the signature is enforced
        assert httpx.post(f"{url}/predict", json={"instances": model.rows(1)}).status_code == 401

        assert running.exec("id", "-u").stdout.strip() == SERVICE_UID
        assert podman.podman("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}",
                             running.name).stdout.strip() == "true"  # fmt: skip
        for path in ("/srv/app/written", "/opt/venv/written", "/written"):
            denied = running.exec("python", "-c", f"open({path!r}, 'w')")
            assert denied.returncode != 0
            assert "Read-only file system" in denied.stderr, denied.stderr
        assert running.exec("python", "-c", "open('/tmp/written', 'w')").returncode == 0


def test_serves_the_champion_from_the_s3_store(
    images: podman.Images, s3_store: str, s3_server: S3Endpoint, keys_file: Path, model: Trained
) -> None:
    with service(images.inference, f"{s3_store}/{MODEL_NAME}", keys_file, env=s3_server.env()) as (
        _,
        url,
    ):
        response = predict(url, model.rows(3))
        assert response.status_code == 200, response.text
        assert response.json()["model"] == {"name": MODEL_NAME, "version": "7"}
        assert (
            response.json()["predictions"] == model.pipeline.predict(model.frame.head(3)).tolist()
        )


def test_healthcheck_command_passes_on_a_running_service(
    images: podman.Images, local_store: Path, keys_file: Path
) -> None:
    healthcheck = json.loads(podman.image_config(images.inference, "{{json .Config.Healthcheck}}"))
    kind, *command = healthcheck["Test"]
    assert kind == "CMD"
    assert "/healthz" in " ".join(command)
    with service(
        images.inference,
        f"{STORE_MOUNT}/{MODEL_NAME}",
        keys_file,
        volumes=[(local_store, STORE_MOUNT)],
    ) as (running, _):
        check = podman.podman("healthcheck", "run", running.name, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        # the same command fails where nothing answers: it does probe the service
        elsewhere = podman.podman(
            "exec", "--env", f"STRATUS_PORT={free_port()}", running.name, *command, check=False
        )
        assert elsewhere.returncode != 0


@pytest.fixture(scope="module")
def slow_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store whose champion sleeps ~1 s per predict call; the slow step is pickled by value,
    because the image has no tests to import it from."""
    base = train(width=4)
    pipe = make_pipeline(
        FunctionTransformer(slow_model.slow_identity), *[step for _, step in base.pipeline.steps]
    )
    pipe.fit(base.frame, base.pipeline.predict(base.frame))
    root = tmp_path_factory.mktemp("slow-image-store")
    cloudpickle.register_pickle_by_value(slow_model)
    try:
        publish(str(root), Trained(pipe, base.frame), "1")
    finally:
        cloudpickle.unregister_pickle_by_value(slow_model)
    return readable_by_all(root)


def test_podman_stop_drains_requests_in_flight(
    images: podman.Images, slow_store: Path, keys_file: Path
) -> None:
    rows = train(width=4).rows(1)
    results: list[tuple[int, float]] = []

    def send(url: str) -> None:
        response = predict(url, rows)
        results.append((response.status_code, time.monotonic()))

    with service(
        images.inference,
        f"{STORE_MOUNT}/{MODEL_NAME}",
        keys_file,
        # slow models run off the event loop (README), so every connection is accepted at once;
        # on the loop, connections still in the listen backlog at SIGTERM are reset, not drained
        env={"STRATUS_PREDICT_EXECUTOR": "thread"},
        volumes=[(slow_store, STORE_MOUNT)],
    ) as (running, url):
        senders = [threading.Thread(target=send, args=(url,)) for _ in range(8)]
        for sender in senders:
            sender.start()
        time.sleep(0.5)  # every request is accepted; the model needs ~1 s per batch
        stop_sent = time.monotonic()
        running.stop(timeout_s=30)
        for sender in senders:
            sender.join(30)
        assert running.exit_code() == 0, running.logs()[-3000:]
        assert "service stopped" in running.logs()
    assert [status for status, _ in results] == [200] * 8
    assert all(done > stop_sent for _, done in results)  # they were in flight at the stop


def test_image_carries_the_service_only_and_keeps_to_its_size_budget(
    rootfs: Callable[[str], RootFilesystem], images: podman.Images
) -> None:
    names = rootfs(images.inference).names
    site = next(name for name in names if name.endswith("/site-packages/sklearn/__init__.py"))
    site = site.removesuffix("sklearn/__init__.py")
    installed = {name[len(site) :].split("/")[0] for name in names if name.startswith(site)}
    assert {"sklearn", "mlflow", "fastapi", "uvicorn", "s3fs", "adlfs"} <= installed
    training_stack = {"pyarrow", "pandera", "matplotlib", "flask", "alembic", "sqlalchemy",
                      "psycopg", "boto3"}  # fmt: skip
    assert installed & training_stack == set()
    assert [name for name in names if name.startswith(f"{site}mlflow/server/js")] == []
    code = [name for name in names if name.startswith("srv/") and name.count("/") > 1]
    assert {name.split("/")[1] for name in code} == {"app", "training"}
    assert {n for n in names if n.startswith("srv/training/") and n.endswith(".py")} == {
        "srv/training/__init__.py",
        "srv/training/bundle.py",
    }
    size = int(podman.image_config(images.inference, "{{.Size}}"))
    assert size <= SIZE_BUDGET_BYTES, f"{size / 1e6:.0f} MB > {SIZE_BUDGET_BYTES / 1e6:.0f} MB"
