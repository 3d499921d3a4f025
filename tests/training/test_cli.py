"""The CLI the way users call it: ``python -m training run`` with no arguments (what ``make run``
does), the example configs, and the PostgreSQL-backed MLflow server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.servers import ROOT
from tests.training.conftest import invoke, unique_name, write_config
from training.bundle import open_store, read_pointer
from training.config import DEFAULT_CONFIG, load_config

pytestmark = pytest.mark.slow


def test_python_m_training_run_with_no_arguments(workspace: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "MLFLOW_TRACKING_URI" and not key.startswith("STRATUS_TRAINING_")
    }
    env["PYTHONPATH"] = str(ROOT)
    env["STRATUS_TRAINING_MODEL__N_JOBS"] = "1"  # keep the shared CI machine calm
    completed = subprocess.run(
        [sys.executable, "-m", "training", "run"],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    out = completed.stdout
    tracking_uri = f"sqlite:///{workspace / '.stratus' / 'mlflow.db'}"
    assert "Registered model: stratus-classifier version 1 (aliases: champion)" in out
    assert f"Tracking URI:     {tracking_uri}" in out
    assert f"mlflow ui --backend-store-uri {tracking_uri}" in out
    assert f"Model store:      {workspace / '.stratus' / 'model-store'}" in out
    for stage in ("load", "validate", "land", "train", "search trials", "gate", "publish"):
        assert stage in out
    assert "Metrics:          binary: precision/recall/F1 measure class 0" in out
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    assert str(client.get_model_version_by_alias("stratus-classifier", "champion").version) == "1"
    artifacts = (workspace / ".stratus" / "mlartifacts").rglob("MLmodel")
    assert any(True for _ in artifacts)
    fs, root = open_store(str(workspace / ".stratus" / "model-store"))
    assert read_pointer(fs, root, "stratus-classifier").version == "1"


def test_every_example_config_is_valid(workspace: Path) -> None:
    configs = sorted(DEFAULT_CONFIG.parent.glob("*.yaml"))
    assert len(configs) >= 7
    estimators = {load_config(path).model.estimator for path in configs}
    assert estimators >= {
        "logistic_regression", "random_forest", "gradient_boosting",
        "hist_gradient_boosting", "ridge",
    }  # fmt: skip


def test_regression_example_with_residual_plot(workspace: Path) -> None:
    config = write_config(
        workspace,
        {
            **load_config(DEFAULT_CONFIG.parent / "regression_ridge.yaml").model_dump(
                include={"data", "model", "gate"}, mode="json"
            ),
            "features": {"derived": []},
            "registry": {"model_name": unique_name("regressor")},
        },
    )
    result = invoke(["run", "--config", str(config), "--n-jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "holdout rmse (primary)" in result.output
    tracking_uri = f"sqlite:///{workspace / '.stratus' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.search_runs([client.get_experiment_by_name("stratus-training").experiment_id])[0]
    assert {"test_rmse", "test_mae", "test_r2"} <= set(run.data.metrics)
    assert "residuals.png" in {a.path for a in client.list_artifacts(run.info.run_id)}


def test_mlflow_on_postgresql(workspace: Path, mlflow_postgres_server: str) -> None:
    name = unique_name("pg")
    config = write_config(workspace, {"registry": {"model_name": name}})
    env = {"MLFLOW_TRACKING_URI": mlflow_postgres_server}
    assert invoke(["run", "--config", str(config)], env=env).exit_code == 0
    assert invoke(["run", "--config", str(config), "--seed", "5"], env=env).exit_code == 0
    client = MlflowClient(tracking_uri=mlflow_postgres_server, registry_uri=mlflow_postgres_server)
    aliases = client.get_registered_model(name).aliases
    assert {k: str(v) for k, v in aliases.items()} == {"champion": "2", "previous": "1"}
    assert invoke(["rollback", name, "--config", str(config)], env=env).exit_code == 0
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"


def test_unreachable_tracking_server_is_a_clear_error(workspace: Path) -> None:
    from tests.servers import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    config = write_config(workspace, {"registry": {"model_name": unique_name()}})
    env = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    result = invoke(["run", "--config", str(config), "--tracking-uri", uri], env=env)
    assert result.exit_code == 1, result.output
    assert f"cannot use the MLflow tracking server at {uri}" in result.output
    assert not (workspace / ".stratus" / "model-store").exists()
