from __future__ import annotations

from pathlib import Path

import pytest

from app.model.loaded import ModelLoadError
from app.model.source import ModelSourceError, RegistrySource, StoreSource, parse_model_uri
from tests.app.conftest import MODEL_NAME, Trained, publish, register, train
from tests.conftest import BlobEndpoint, S3Endpoint


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "models:/stratus-classifier@champion",
            RegistrySource("stratus-classifier", "champion", None),
        ),
        ("models:/m/3", RegistrySource("m", "champion", None, "3")),
        (
            "s3://bucket/prefix/stratus-classifier",
            StoreSource("s3://bucket/prefix", "stratus-classifier", "champion"),
        ),
        ("az://models/m@staging", StoreSource("az://models", "m", "staging")),
        ("/srv/store/m", StoreSource("/srv/store", "m", "champion")),
    ],
)
def test_parse_model_uri(uri: str, expected: object) -> None:
    assert parse_model_uri(uri, None) == expected


@pytest.mark.parametrize(
    "uri", ["models:/", "models:/m@", "models:/m/x", "m", "s3://bucket", "s3://b/@x"]
)
def test_bad_model_uri_says_what_is_expected(uri: str) -> None:
    with pytest.raises(ModelSourceError, match=r"expected|no bucket"):
        parse_model_uri(uri, None)


def _load(source: StoreSource | RegistrySource, trained: Trained) -> None:
    identity = source.resolve(source.alias)
    model = source.load(identity, None)
    assert model.identity.version == identity.version
    expected = trained.pipeline.predict(trained.frame.head(4))
    assert model.predict(trained.frame.head(4).to_numpy()).labels.tolist() == expected.tolist()


def test_local_store(tmp_path: Path, logistic: Trained) -> None:
    publish(str(tmp_path), logistic, "4")
    source = parse_model_uri(f"{tmp_path}/{MODEL_NAME}", None)
    assert source.resolve("champion").version == "4"
    _load(source, logistic)


def test_corrupt_bundle_is_refused(tmp_path: Path, logistic: Trained) -> None:
    publish(str(tmp_path), logistic, "1")
    model_file = next((tmp_path / MODEL_NAME / "versions" / "1").rglob("model.pkl"))
    model_file.write_bytes(b"garbage")
    source = parse_model_uri(f"{tmp_path}/{MODEL_NAME}", None)
    with pytest.raises(ModelLoadError, match="checksum"):
        source.load(source.resolve("champion"), None)


def test_s3_store(
    s3_server: S3Endpoint, monkeypatch: pytest.MonkeyPatch, logistic: Trained
) -> None:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    import boto3

    boto3.client("s3", endpoint_url=s3_server.url).create_bucket(Bucket="serve-models")
    publish("s3://serve-models/published", logistic, "2")
    source = parse_model_uri(f"s3://serve-models/published/{MODEL_NAME}", None)
    assert source.resolve("champion").version == "2"
    _load(source, logistic)


def test_azure_store(
    azurite: BlobEndpoint, monkeypatch: pytest.MonkeyPatch, logistic: Trained
) -> None:
    for key, value in azurite.env().items():
        monkeypatch.setenv(key, value)
    from azure.storage.blob import BlobServiceClient

    BlobServiceClient.from_connection_string(azurite.connection_string).create_container("serve")
    publish("az://serve/published", logistic, "3")
    source = parse_model_uri(f"az://serve/published/{MODEL_NAME}", None)
    assert source.resolve("champion").version == "3"
    _load(source, logistic)


def test_registry(mlflow_server: str) -> None:
    trained = train(seed=3)
    version = register(mlflow_server, trained, name="source-test")
    source = parse_model_uri("models:/source-test@champion", mlflow_server)
    assert source.resolve("champion").version == version
    _load(source, trained)
    with pytest.raises(ModelLoadError, match="cannot resolve models:/source-test@previous"):
        source.resolve("previous")
