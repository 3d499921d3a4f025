"""``registry.log_model``: MLflow's notice about the deliberately chosen cloudpickle format is not
shown, and nothing else MLflow logs is hidden."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from training import registry


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def recorded() -> Iterator[Recorder]:
    logger = logging.getLogger("mlflow.sklearn")
    handler = Recorder()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_log_model_without_the_pickle_notice(tmp_path: Path, recorded: Recorder) -> None:
    data = load_breast_cancer(as_frame=True)
    model = Pipeline([("model", LogisticRegression(max_iter=5000))]).fit(data.data, data.target)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.create_experiment("t", artifact_location=(tmp_path / "a").as_uri())
    logger = logging.getLogger("mlflow.sklearn")
    filters_before = list(logger.filters)
    with mlflow.start_run(experiment_id=experiment):
        info = registry.log_model(model, data.data)
    assert info.model_uri
    assert not [m for m in recorded.messages if m.startswith(registry.PICKLE_NOTICE)]
    assert logger.filters == filters_before  # only while Stratus logs a model
    # The same notice from anyone else's save still shows.
    mlflow.sklearn.save_model(model, str(tmp_path / "other"), serialization_format="cloudpickle")
    assert [m for m in recorded.messages if m.startswith(registry.PICKLE_NOTICE)]
