"""The gate against a real ``mlflow server``: the champion is scored on rows neither model trained
on, an incomparable champion is a rejection, drift is bounded, multiclass/string labels work."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.datasets import make_classification

from tests.training.conftest import invoke, unique_name, write_config
from training.config import DEFAULT_CONFIG, TrainingConfig, load_config
from training.load import load_data

pytestmark = pytest.mark.slow

FOREST = {
    "estimator": "random_forest",
    "params": {"n_estimators": 50},
    "search": {"kind": "none", "space": {}},
}


def _regression(name: str, **model: Any) -> dict[str, Any]:
    """The shipped ridge example (diabetes) under ``name``."""
    example = load_config(DEFAULT_CONFIG.parent / "regression_ridge.yaml")
    settings = example.model_dump(include={"data", "model", "gate", "features"}, mode="json")
    settings["model"].update(model)
    return {**settings, "registry": {"model_name": name}}


def _run(config: Path, tracking_uri: str, *args: str) -> tuple[int, str]:
    result = invoke(
        ["run", "--config", str(config), *args], env={"MLFLOW_TRACKING_URI": tracking_uri}
    )
    return result.exit_code, result.output


def _client(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _aliases(client: MlflowClient, name: str) -> dict[str, str]:
    return {alias: str(v) for alias, v in client.get_registered_model(name).aliases.items()}


def _holdout_rows(**config: Any) -> int:
    from training.split import split

    settings = TrainingConfig(**config)
    frame = load_data(settings.data, source="default", task="classification", seed=0)
    return len(split(frame, settings).x_test)


def test_the_champion_is_scored_on_rows_neither_model_trained_on(
    workspace: Path, mlflow_server: str
) -> None:
    """Seeds 1, 2, 3 of a random forest without a search: each candidate is sound and accepted,
    and the champion is scored on the holdout it was measured on when registered. (Re-scored on a
    holdout made of its own training rows, a forest scores an inflated 1.0 and rejects them.)"""
    name = unique_name("seeds")
    client = _client(mlflow_server)
    for seed in (1, 2, 3):
        config = write_config(
            workspace,
            {
                "seed": seed,
                "registry": {"model_name": name},
                "features": {"derived": []},
                "model": FOREST,
                "gate": {"tolerance": 0.005},
            },
        )
        code, output = _run(config, mlflow_server)
        assert code == 0, output
    rows = _holdout_rows()
    for version in ("2", "3"):
        champion = str(int(version) - 1)
        recorded = float(client.get_model_version(name, champion).tags["metric.roc_auc"])
        gate = client.get_model_version(name, version).tags["gate"]
        assert f"champion v{champion} {recorded:.4f} on the {rows} holdout rows neither model " in (
            gate
        )
    assert _aliases(client, name) == {"champion": "3", "previous": "2"}

    # a candidate with a larger holdout is compared on the part the champion did not train on
    wider = write_config(
        workspace,
        {
            "seed": 4,
            "registry": {"model_name": name},
            "features": {"derived": []},
            "split": {"test_size": 0.3},
            "model": FOREST,
        },
    )
    code, output = _run(wider, mlflow_server)
    gate = client.get_model_version(name, "4").tags["gate"]
    assert f"on the {rows} of {_holdout_rows(split={'test_size': 0.3})} holdout rows" in gate
    assert "the champion trained with split.test_size=0.2" in gate
    assert client.get_model_version(name, "4").tags["split_test_size"] == "0.3"
    assert client.get_model_version(name, "4").tags["split_rule"] == "row-hash-v1"


def test_a_champion_of_another_task_rejects_the_candidate_unless_forced(
    workspace: Path, mlflow_server: str
) -> None:
    name = unique_name("task")
    client = _client(mlflow_server)
    code, output = _run(write_config(workspace, {"registry": {"model_name": name}}), mlflow_server)
    assert code == 0, output
    regression = write_config(workspace, _regression(name))
    code, output = _run(regression, mlflow_server)
    assert code == 3, output
    gate = client.get_model_version(name, "2").tags["gate"]
    assert "cannot compare with champion v1: it is a classification model, the candidate a " in (
        gate
    )
    assert "--force" in gate
    assert _aliases(client, name) == {"champion": "1"}
    result = invoke(
        ["promote", name, "2", "--config", str(regression)],
        env={"MLFLOW_TRACKING_URI": mlflow_server},
    )
    assert result.exit_code == 1
    assert "pass --force" in result.output
    result = invoke(
        ["promote", name, "2", "--force", "--config", str(regression)],
        env={"MLFLOW_TRACKING_URI": mlflow_server},
    )
    assert result.exit_code == 0, result.output
    assert _aliases(client, name) == {"champion": "2", "previous": "1"}


def test_a_champion_with_other_input_columns_rejects_the_candidate(
    workspace: Path, mlflow_server: str
) -> None:
    name = unique_name("columns")
    client = _client(mlflow_server)
    code, output = _run(write_config(workspace, {"registry": {"model_name": name}}), mlflow_server)
    assert code == 0, output
    fewer = write_config(
        workspace,
        {
            "registry": {"model_name": name},
            "data": {"features": ["mean radius", "mean texture", "mean area", "worst area"]},
        },
    )
    code, output = _run(fewer, mlflow_server)
    assert code == 3, output
    assert (
        "cannot compare with champion v1: it takes other input columns (missing [], extra ["
        in (client.get_model_version(name, "2").tags["gate"])
    )
    assert _aliases(client, name) == {"champion": "1"}


def test_drift_is_bounded_by_the_best_accepted_version(workspace: Path, mlflow_server: str) -> None:
    """Each run within tolerance of the last, yet drifting: stopped once it is further than the
    tolerance from the best accepted version (without the bound all would be accepted)."""
    name = unique_name("drift")
    client = _client(mlflow_server)

    def ridge(alpha: float, **gate: Any) -> Path:
        settings = _regression(name, params={"alpha": alpha}, search={"kind": "none", "space": {}})
        settings["features"] = {"derived": [], "scale": False}
        settings["gate"] = {
            "primary_metric": "rmse",
            "min": {},
            "max": {},
            "tolerance": 0.4,
            **gate,
        }
        return write_config(workspace, settings)

    for alpha in (0.1, 0.2):
        code, output = _run(ridge(alpha), mlflow_server)
        assert code == 0, output
    code, output = _run(ridge(0.3), mlflow_server)  # within 0.4 of v2, not of v1
    assert code == 3, output
    gate = client.get_model_version(name, "3").tags["gate"]
    assert "drifted too far: rmse" in gate
    assert "vs the best accepted version v1 (its recorded holdout)" in gate
    assert "worse than the champion" not in gate
    assert _aliases(client, name) == {"champion": "2", "previous": "1"}
    code, output = _run(ridge(0.3, baseline=52.95, drift_tolerance=0.1), mlflow_server)
    assert code == 0, output
    assert (
        "vs gate.baseline 52.9500 (drift tolerance 0.1000)"
        in (client.get_model_version(name, "4").tags["gate"])
    )


def _labelled(directory: Path, name: str, labels: list[str], positive: str | None) -> Path:
    """A config on a CSV whose string target ``label`` takes ``labels``."""
    features, classes = make_classification(
        n_samples=600,
        n_features=6,
        n_informative=4,
        n_classes=len(labels),
        n_clusters_per_class=1,
        random_state=7,
    )
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(6)])
    frame["label"] = np.array(labels)[classes]
    path = directory / f"labels-{len(labels)}.csv"
    frame.to_csv(path, index=False)
    data = {"source": str(path), "target": "label", "positive_label": positive}
    return write_config(
        directory,
        {
            "data": data,
            "features": {"derived": []},
            "gate": {"min": {"f1": 0.6}},
            "registry": {"model_name": name},
        },
    )


def test_multiclass_and_string_labels_with_a_search(workspace: Path, mlflow_server: str) -> None:
    client = _client(mlflow_server)
    name = unique_name("species")
    code, output = _run(_labelled(workspace, name, ["cat", "dog", "emu"], None), mlflow_server)
    assert code == 0, output
    assert "multiclass (3 classes): precision/recall/F1 are macro averages" in output
    version = client.get_model_version(name, "1")
    assert version.tags["metric_scope"].startswith("multiclass (3 classes)")
    assert 0.6 < float(version.tags["metric.roc_auc"]) <= 1.0

    name = unique_name("churn")
    code, output = _run(_labelled(workspace, name, ["stay", "leave"], "leave"), mlflow_server)
    assert code == 0, output
    assert "binary: precision/recall/F1 measure class 'leave'" in output
    assert client.get_model_version(name, "1").tags["positive_label"] == '"leave"'


def test_an_unloadable_champion_is_a_logged_rejection_not_no_champion(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from training.compare import champion_comparison
    from training.gate import Incomparable
    from training.metrics import metric_spec
    from training.split import split

    config = TrainingConfig()
    frame = load_data(config.data, source="default", task="classification", seed=0)
    data = split(frame, config)
    spec = metric_spec("classification", frame["target"], 0)
    champion: Any = SimpleNamespace(version="7", tags={"task": "classification"})

    def broken(version: str) -> Any:
        raise OSError(f"artifact of v{version} is gone")

    with caplog.at_level(logging.WARNING, logger="training.compare"):
        outcome = champion_comparison(
            champion, load=broken, candidate=None, data=data, spec=spec, config=config
        )
    assert outcome == Incomparable("7", "it cannot be loaded (OSError: artifact of v7 is gone)")
    assert "cannot load champion v7" in caplog.text
