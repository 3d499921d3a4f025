"""``s3://`` (real moto server) and ``az://`` (real Azurite) as data sources and model stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import fsspec
import mlflow
import pytest
import s3fs

from tests.conftest import BlobEndpoint, S3Endpoint
from tests.training.conftest import invoke, unique_name, write_config
from training.bundle import fetch_bundle, open_store, read_pointer
from training.config import DataConfig
from training.load import load_data

pytestmark = pytest.mark.slow


def _breast_cancer():  # type: ignore[no-untyped-def]
    return load_data(DataConfig(), source="default", task="classification", seed=0)


def _assert_published(store: str, name: str, version: str, scratch: Path) -> None:
    fs, root = open_store(store)
    pointer = read_pointer(fs, root, name)
    assert pointer.version == version
    assert pointer.source_uri == f"models:/{name}/{version}"
    local = fetch_bundle(fs, root, pointer, scratch / "bundle")  # verifies every checksum
    model = mlflow.sklearn.load_model(str(local))
    frame = _breast_cancer().drop(columns=["target"]).head(4)
    assert model.predict_proba(frame).shape == (4, 2)


def test_s3_source_and_store(
    workspace: Path, s3_server: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    boto3.client("s3").create_bucket(Bucket="lake")
    boto3.client("s3").create_bucket(Bucket="models")
    with fsspec.open("s3://lake/raw/breast_cancer.parquet", "wb") as handle:
        _breast_cancer().to_parquet(handle, index=False)
    name = unique_name()
    config = write_config(
        workspace,
        {
            "data": {"source": "s3://lake/raw/breast_cancer.parquet"},
            "land": {"processed_url": "s3://lake/processed"},
            "registry": {"model_name": name},
            "publish": {"stores": ["s3://models/stratus", ".stratus/model-store"]},
        },
    )
    result = invoke(["run", "--config", str(config)])
    assert result.exit_code == 0, result.output
    _assert_published("s3://models/stratus", name, "1", workspace / "s3")
    _assert_published(str(workspace / ".stratus" / "model-store"), name, "1", workspace / "local")
    landed = fsspec.filesystem("s3").ls("lake/processed")
    assert len(landed) == 1
    assert landed[0].endswith(".parquet")

    missing = write_config(workspace, {"data": {"source": "s3://lake/raw/absent.csv"}})
    result = invoke(["run", "--config", str(missing)])
    assert result.exit_code == 1
    assert "data source not found: s3://lake/raw/absent.csv" in result.output


def test_azure_source_and_store(
    workspace: Path, azurite: BlobEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in azurite.env().items():
        monkeypatch.setenv(key, value)
    fs = fsspec.filesystem("az")
    fs.mkdir("lake")
    fs.mkdir("models")
    with fs.open("lake/raw/breast_cancer.csv", "wb") as handle:
        handle.write(_breast_cancer().to_csv(index=False).encode())
    name = unique_name()
    config = write_config(
        workspace,
        {
            "data": {"source": "abfs://lake/raw/breast_cancer.csv"},
            "registry": {"model_name": name},
            "publish": {"stores": ["az://models/stratus"]},
        },
    )
    result = invoke(["run", "--config", str(config)])
    assert result.exit_code == 0, result.output
    _assert_published("az://models/stratus", name, "1", workspace / "az")


def test_failing_store_keeps_no_pointer_and_others_publish(workspace: Path) -> None:
    blocked = workspace / "blocked"
    blocked.write_text("a file where the store directory should be")
    good = workspace / "good-store"
    name = unique_name()
    config = write_config(
        workspace,
        {
            "registry": {"model_name": name},
            "publish": {"stores": [str(blocked / "store"), str(good)]},
        },
    )
    result = invoke(["run", "--config", str(config)])
    assert result.exit_code == 4, result.output
    assert "publishing" in result.output
    assert "failed for 1 of 2 stores" in result.output
    assert blocked.read_text() == "a file where the store directory should be"
    fs, root = open_store(str(good))
    assert read_pointer(fs, root, name).version == "1"


def _buckets() -> list[str]:
    return sorted(bucket["Name"] for bucket in boto3.client("s3").list_buckets()["Buckets"])


def test_a_mistyped_bucket_is_an_error_and_is_never_created(
    workspace: Path, s3_server: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    boto3.client("s3").create_bucket(Bucket="models-real")
    before = _buckets()
    config = write_config(workspace, {"registry": {"model_name": unique_name()}})
    result = invoke(["run", "--config", str(config), "--store", "s3://modles-typo/published"])
    assert result.exit_code == 1, result.output
    assert (
        "publish.stores: bucket 'modles-typo' does not exist (s3://modles-typo/published); "
        "Stratus never creates buckets" in result.output
    )
    landing = write_config(
        workspace,
        {"registry": {"model_name": unique_name()}, "land": {"processed_url": "s3://lake-typo/x"}},
    )
    result = invoke(["run", "--config", str(landing)])
    assert result.exit_code == 1, result.output
    assert "land.processed_url: bucket 'lake-typo' does not exist" in result.output
    assert _buckets() == before
    assert not (workspace / ".stratus" / "data-lake").exists()  # nothing landed anywhere
    assert not (workspace / ".stratus" / "mlflow.db").exists()  # no MLflow run either


@pytest.fixture
def fresh_s3_clients() -> Iterator[None]:
    """No S3 client cached by earlier tests (with their credentials), none left for later ones."""
    s3fs.S3FileSystem.clear_instance_cache()
    yield
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.mark.usefixtures("fresh_s3_clients")
def test_missing_aws_credentials_are_a_clear_error(
    workspace: Path, s3_server: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.url)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(workspace / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(workspace / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = write_config(workspace, {"registry": {"model_name": unique_name()}})
    result = invoke(["run", "--config", str(config), "--store", "s3://models/stratus"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "publish.stores: no AWS credentials to reach s3://models/stratus" in result.output
    source = write_config(
        workspace,
        {"registry": {"model_name": unique_name()}, "data": {"source": "s3://lake/raw/x.csv"}},
    )
    result = invoke(["run", "--config", str(source)])
    assert result.exit_code == 1, result.output
    assert "cannot read s3://lake/raw/x.csv: no AWS credentials to reach" in result.output


def test_a_missing_blob_container_is_an_error_and_is_never_created(
    workspace: Path, azurite: BlobEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in azurite.env().items():
        monkeypatch.setenv(key, value)
    config = write_config(workspace, {"registry": {"model_name": unique_name()}})
    result = invoke(["run", "--config", str(config), "--store", "az://no-such-models/stratus"])
    assert result.exit_code == 1, result.output
    assert "publish.stores: container 'no-such-models' does not exist" in result.output
    assert "no-such-models" not in [c.rstrip("/") for c in fsspec.filesystem("az").ls("")]
