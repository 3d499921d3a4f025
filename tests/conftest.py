"""Session-wide real servers shared by the test packages.

Each fixture starts its server on 127.0.0.1 on a free port and stops it at the end of the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests import servers


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real ``mlflow server`` on a sqlite backend.

    ``STRATUS_TEST_MLFLOW_URL`` names one started by the caller instead: ``make mutation`` starts
    one for all of a module's mutants, where each pytest run would otherwise start its own. The
    tests work on uniquely named models, so they share a server safely."""
    shared = os.environ.get("STRATUS_TEST_MLFLOW_URL")
    if shared:
        yield shared
        return
    with servers.mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server.url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """``STRATUS_TEST_POSTGRES_URL`` (a SQLAlchemy URL); the test is skipped when it is unset."""
    url = os.environ.get("STRATUS_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("STRATUS_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    return url


@pytest.fixture(scope="session")
def mlflow_postgres_server(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str
) -> Iterator[str]:
    """URL of a real ``mlflow server`` on the PostgreSQL backend, as in the cloud stacks."""
    with servers.mlflow_server(tmp_path_factory.mktemp("mlflow-pg"), postgres_url) as server:
        yield server.url


@dataclass(frozen=True)
class S3Endpoint:
    url: str

    def env(self) -> dict[str, str]:
        """Environment for boto3/s3fs/MLflow clients to use this endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "MLFLOW_S3_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """A real moto S3 server."""
    with servers.moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield S3Endpoint(server.url)


@dataclass(frozen=True)
class BlobEndpoint:
    url: str
    connection_string: str
    account_name: str = servers.AZURITE_ACCOUNT

    def env(self) -> dict[str, str]:
        """Environment for adlfs/azure-storage clients to use this endpoint."""
        return {
            "AZURE_STORAGE_CONNECTION_STRING": self.connection_string,
            "AZURE_STORAGE_ACCOUNT_NAME": self.account_name,
        }


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlobEndpoint]:
    """A real Azurite Blob server."""
    with servers.azurite_server(tmp_path_factory.mktemp("azurite")) as server:
        yield BlobEndpoint(server.url, servers.azurite_connection_string(server.url))
