"""The training image (training/Dockerfile): a training run, and the MLflow tracking server."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import fsspec
import httpx
import psycopg
import pytest
from mlflow import MlflowClient

from tests.app.conftest import PREDICT_KEY
from tests.conftest import S3Endpoint
from tests.images import podman
from tests.images.conftest import KEYS_PATH
from tests.servers import free_port

pytestmark = [pytest.mark.images, pytest.mark.timeout(1800)]

MODELS_BUCKET = "image-training-models"
LAKE_BUCKET = "image-training-lake"


@dataclass(frozen=True)
class TrainingRun:
    model_name: str
    store: str
    exit_code: int
    output: str


@pytest.fixture(scope="module")
def training_run(images: podman.Images, s3_server: S3Endpoint, mlflow_server: str) -> TrainingRun:
    """``python -m training run`` in the training image against moto S3 and a real MLflow."""
    s3 = boto3.client("s3", endpoint_url=s3_server.url)
    for bucket in (MODELS_BUCKET, LAKE_BUCKET):
        s3.create_bucket(Bucket=bucket)
    name = f"image-{uuid.uuid4().hex[:8]}"
    store = f"s3://{MODELS_BUCKET}/published"
    options = podman.run_options(
        env={
            **s3_server.env(),
            "MLFLOW_TRACKING_URI": mlflow_server,
            "STRATUS_TRAINING_LAND__PROCESSED_URL": f"s3://{LAKE_BUCKET}/processed",
        }
    )
    done = podman.run_to_completion(
        images.training,
        "run", "--model-name", name, "--store", store, "--n-jobs", "1",
        options=options,
    )  # fmt: skip
    return TrainingRun(name, store, done.returncode, done.stdout + done.stderr)


def test_training_run_registers_and_publishes_a_champion(
    training_run: TrainingRun, mlflow_server: str, s3_server: S3Endpoint, images: podman.Images
) -> None:
    assert training_run.exit_code == 0, training_run.output[-6000:]
    client = MlflowClient(mlflow_server)
    champion = client.get_model_version_by_alias(training_run.model_name, "champion")
    assert champion.tags["validation_status"] == "accepted"
    environment = json.loads(podman.image_config(images.training, "{{json .Config.Env}}"))
    built_from = dict(item.split("=", 1) for item in environment)["STRATUS_CODE_VERSION"]
    assert built_from
    assert champion.tags["code_version"] == built_from

    fs = fsspec.filesystem(
        "s3",
        key="testing",
        secret="testing",
        client_kwargs={"endpoint_url": s3_server.url, "region_name": "us-east-1"},
    )
    pointer = json.loads(
        fs.cat(
            f"{training_run.store}/{training_run.model_name}/champion.json".removeprefix("s3://")
        )
    )
    assert pointer["version"] == champion.version
    assert fs.ls(f"{LAKE_BUCKET}/processed"), "the validated data was landed in the lake"


def test_the_inference_image_serves_what_the_training_image_published(
    training_run: TrainingRun, images: podman.Images, s3_server: S3Endpoint, keys_file: Path
) -> None:
    assert training_run.exit_code == 0, training_run.output[-6000:]
    port = free_port()
    options = podman.run_options(
        env={
            **s3_server.env(),
            "STRATUS_PORT": str(port),
            "STRATUS_HOST": "127.0.0.1",
            "STRATUS_MODEL_URI": f"{training_run.store}/{training_run.model_name}",
            "STRATUS_API_KEYS_FILE": KEYS_PATH,
            "STRATUS_WATCH_INTERVAL_S": "0",
        },
        volumes=[(keys_file, KEYS_PATH)],
    )
    with podman.container(images.inference, options=options) as running:
        url = f"http://127.0.0.1:{port}"
        running.wait_http(f"{url}/readyz")
        headers = {"X-API-Key": PREDICT_KEY}
        metadata = httpx.get(f"{url}/v2/models/{training_run.model_name}", headers=headers)
        assert metadata.status_code == 200, metadata.text
        features = [item["name"] for item in metadata.json()["inputs"]]
        assert "mean radius" in features  # the bundled breast-cancer data
        response = httpx.post(
            f"{url}/predict", json={"instances": [[1.0] * len(features)]}, headers=headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["predictions"][0] in (0, 1)


ARTIFACTS_BUCKET = "image-mlflow-artifacts"


def test_mlflow_server_on_postgresql_proxies_artifacts_to_s3_and_stops_cleanly(
    images: podman.Images, postgres_url: str, s3_server: S3Endpoint, tmp_path: Path
) -> None:
    """``mlflow server`` from the training image: PostgreSQL backend, S3 artifacts, proxied."""
    boto3.client("s3", endpoint_url=s3_server.url).create_bucket(Bucket=ARTIFACTS_BUCKET)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    options = podman.run_options(env=s3_server.env(), entrypoint="mlflow")
    with podman.container(
        images.training,
        "server",
        "--backend-store-uri", postgres_url,
        "--artifacts-destination", f"s3://{ARTIFACTS_BUCKET}/mlflow",
        "--serve-artifacts",
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1",
        options=options,
    ) as running:  # fmt: skip
        running.wait_http(f"{url}/health")
        client = MlflowClient(url)
        experiment = f"image-{uuid.uuid4().hex[:8]}"
        run = client.create_run(client.create_experiment(experiment))
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # proxied by the server
        upload = tmp_path / "report.json"
        upload.write_text(json.dumps({"accuracy": 0.97, "experiment": experiment}))
        client.log_artifact(run.info.run_id, str(upload), artifact_path="eval")
        client.set_terminated(run.info.run_id)

        out = tmp_path / "out"
        out.mkdir()
        downloaded = client.download_artifacts(run.info.run_id, "eval/report.json", str(out))
        assert Path(downloaded).read_bytes() == upload.read_bytes()

        running.stop(timeout_s=20)  # SIGTERM reaches the server: no SIGKILL (exit 137)
        assert running.exit_code() == 0, running.logs()[-3000:]

    listing = boto3.client("s3", endpoint_url=s3_server.url).list_objects_v2(
        Bucket=ARTIFACTS_BUCKET
    )
    keys = [item["Key"] for item in listing.get("Contents", [])]
    assert f"mlflow/{run.info.experiment_id}/{run.info.run_id}/artifacts/eval/report.json" in keys
    with psycopg.connect(postgres_url) as connection:
        stored = connection.execute(
            "SELECT count(*) FROM experiments WHERE name = %s", (experiment,)
        ).fetchone()
    assert stored == (1,)  # the server's backend store is PostgreSQL
