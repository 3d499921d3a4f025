"""Helpers for the inference-service tests: train small sklearn pipelines and publish them the
way the training pipeline does (MLflow registry with aliases, or a bundle store)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
import sklearn
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from app.core.config import Settings
from app.core.metrics import Metrics
from app.core.security import hash_key
from app.main import create_app
from training.bundle import open_store, write_bundle

MODEL_NAME = "stratus-classifier"
PREDICT_KEY = "test-predict-key-0123456789abcdef"
ADMIN_KEY = "test-admin-key-0123456789abcdef"
BOTH_KEY = "test-both-key-0123456789abcdef"
#: given explicitly: MLflow's requirement inference starts a subprocess and takes seconds
PIP_REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}", "cloudpickle"]
API_KEYS = json.dumps(
    [
        {"name": "predictor", "sha256": hash_key(PREDICT_KEY), "roles": ["predict"]},
        {"name": "operator", "sha256": hash_key(ADMIN_KEY), "roles": ["admin"]},
        {"name": "root", "sha256": hash_key(BOTH_KEY), "roles": ["predict", "admin"]},
    ]
)


@dataclass(frozen=True)
class Trained:
    pipeline: Pipeline
    frame: pd.DataFrame

    @property
    def features(self) -> list[str]:
        return list(self.frame.columns)

    def rows(self, n: int = 3) -> list[list[float]]:
        return self.frame.head(n).to_numpy().tolist()


def feature_names(width: int) -> list[str]:
    return [f"feature {i}" for i in range(width)]


def train(
    kind: str = "logistic", width: int = 6, seed: int = 0, flip: bool = False, scale: float = 1.0
) -> Trained:
    """A small fitted pipeline; ``flip`` swaps the labels, so a second version answers
    differently; ``scale`` multiplies the features.

    Kinds: ``logistic`` (StandardScaler + LogisticRegression), ``imputing`` (the same after a
    SimpleImputer: takes missing values), ``forest`` (RandomForestClassifier), ``ridge`` (a
    regressor without scaling), ``refusing`` (``logistic`` behind a step that raises for values
    beyond ±1e6)."""
    x, y = make_classification(
        n_samples=300,
        n_features=width,
        n_informative=min(width, 3),
        n_redundant=0,
        random_state=seed,
    )
    if flip:
        y = 1 - y
    frame = pd.DataFrame(x * scale, columns=feature_names(width))
    if kind == "forest":
        pipe = make_pipeline(
            RandomForestClassifier(n_estimators=10, max_depth=4, random_state=seed)
        )
    elif kind == "imputing":
        pipe = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression())
    elif kind == "ridge":
        pipe = make_pipeline(Ridge())
    elif kind == "refusing":
        from tests.app.refusing import RefusesHugeValues

        pipe = make_pipeline(RefusesHugeValues(), StandardScaler(), LogisticRegression())
    else:
        pipe = make_pipeline(StandardScaler(), LogisticRegression())
    pipe.fit(frame, y)
    return Trained(pipe, frame)


def _signature(trained: Trained) -> Any:
    return infer_signature(trained.frame, trained.pipeline.predict(trained.frame))


def save_model_dir(trained: Trained, path: Path) -> Path:
    mlflow.sklearn.save_model(
        trained.pipeline,
        str(path),
        signature=_signature(trained),
        input_example=trained.frame.head(2),
        serialization_format="cloudpickle",
        pip_requirements=PIP_REQUIREMENTS,
    )
    return path


def register(
    tracking_uri: str,
    trained: Trained,
    *,
    name: str = MODEL_NAME,
    aliases: tuple[str, ...] = ("champion",),
) -> str:
    """Log and register like the training pipeline; point ``aliases`` at the new version."""
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            trained.pipeline,
            name="model",
            signature=_signature(trained),
            input_example=trained.frame.head(2),
            serialization_format="cloudpickle",
            registered_model_name=name,
            pip_requirements=PIP_REQUIREMENTS,
        )
    version = str(info.registered_model_version)
    client = MlflowClient(tracking_uri)
    for alias in aliases:
        client.set_registered_model_alias(name, alias, version)
    return version


def publish(store_url: str, trained: Trained, version: str, *, name: str = MODEL_NAME) -> None:
    """Publish a bundle like the training pipeline (``training.bundle.write_bundle``)."""
    fs, root = open_store(store_url)
    with tempfile.TemporaryDirectory() as tmp:
        local = save_model_dir(trained, Path(tmp) / "model")
        write_bundle(
            fs,
            root,
            local_dir=local,
            name=name,
            version=version,
            source_uri=f"models:/{name}/{version}",
        )


def settings_for(model_uri: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "model_uri": model_uri,
        "auth_mode": "api-key",
        "api_keys": API_KEYS,
        "watch_interval_s": 0,
        "access_log": False,
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def serve(settings: Settings) -> Iterator[TestClient]:
    """The app in-process with its lifespan run (model loaded, batcher started)."""
    app = create_app(settings, Metrics())
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def auth(key: str = BOTH_KEY) -> dict[str, str]:
    return {"X-API-Key": key}


@pytest.fixture(scope="session")
def logistic() -> Trained:
    return train("logistic")


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory, logistic: Trained) -> str:
    """A local bundle store with version 1 of the logistic pipeline as champion."""
    root = tmp_path_factory.mktemp("store")
    publish(str(root), logistic, "1")
    return str(root)


@pytest.fixture
def client(store: str) -> Iterator[TestClient]:
    with serve(settings_for(f"{store}/{MODEL_NAME}")) as test_client:
        yield test_client


def as_floats(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


@contextmanager
def uvicorn_thread(settings: Settings) -> Iterator[str]:
    """The app under a real uvicorn server in a thread (real HTTP, lifespan run); yields its URL."""
    import threading
    import time

    import uvicorn

    from tests.servers import free_port

    port = free_port()
    config = uvicorn.Config(
        create_app(settings, Metrics()),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def boundary_rows(trained: Trained, per_feature: int = 40) -> np.ndarray:
    """Rows within float rounding of a binary classifier's decision boundary.

    A point on the boundary (the decision function is affine in the raw features for a scaler
    and a linear model), then that point moved by single ulps along each feature: decision
    values of about ±1e-16, where ``predict_proba`` rounds to an exact or near tie."""
    width = len(trained.features)
    decision = trained.pipeline.decision_function
    c = float(decision(np.zeros((1, width)))[0])
    a = np.array([float(decision(np.eye(width)[i : i + 1])[0]) - c for i in range(width)])
    origin = -c * a / float(a @ a)
    rows = []
    for feature in range(width):
        row = origin.copy()
        for _ in range(per_feature // 2):
            row[feature] = np.nextafter(row[feature], -np.inf)
        for _ in range(per_feature):
            rows.append(row.copy())
            row[feature] = np.nextafter(row[feature], np.inf)
    return np.array(rows)
