"""End to end against a real ``mlflow server``: registry state asserted with MLflow's own client."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.training.conftest import invoke, unique_name, write_config
from training.bundle import open_store, read_pointer

pytestmark = pytest.mark.slow

#: A deliberately worse model: one depth-1 tree with a tiny learning rate.
WORSE = {
    "features": {"derived": []},
    "model": {
        "estimator": "gradient_boosting",
        "params": {"n_estimators": 1, "max_depth": 1, "learning_rate": 0.01},
        "search": {"kind": "none", "space": {}},
    },
    "gate": {"min": {"roc_auc": 0.5}},
}


def _run(config: Path, tracking_uri: str) -> tuple[int, str]:
    result = invoke(["run", "--config", str(config)], env={"MLFLOW_TRACKING_URI": tracking_uri})
    return result.exit_code, result.output


def _aliases(client: MlflowClient, name: str) -> dict[str, str]:
    return {alias: str(v) for alias, v in client.get_registered_model(name).aliases.items()}


def test_run_register_gate_promote_rollback(workspace: Path, mlflow_server: str) -> None:
    name = unique_name()
    store = workspace / "store"
    good = write_config(
        workspace, {"registry": {"model_name": name}, "publish": {"stores": [str(store)]}}
    )
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    fs, root = open_store(str(store))

    # 1. first run: registered, accepted, champion, published
    code, output = _run(good, mlflow_server)
    assert code == 0, output
    assert f"Registered model: {name} version 1 (aliases: champion)" in output
    assert f"Tracking URI:     {mlflow_server}" in output
    assert f"Model store:      {store}" in output
    v1 = client.get_model_version(name, "1")
    assert v1.tags["validation_status"] == "accepted"
    assert len(v1.tags["data_fingerprint"]) == 64
    assert len(v1.tags["config_hash"]) == 64
    assert v1.tags["code_version"]
    assert float(v1.tags["metric.roc_auc"]) > 0.95
    assert _aliases(client, name) == {"champion": "1"}
    run = client.get_run(v1.run_id)
    assert run.data.metrics["test_roc_auc"] == pytest.approx(float(v1.tags["metric.roc_auc"]))
    assert run.data.params["estimator"] == "logistic_regression"
    artifacts = {a.path for a in client.list_artifacts(v1.run_id)}
    assert {"confusion_matrix.png", "config.json", "search_trials.json"} <= artifacts
    assert read_pointer(fs, root, name).version == "1"
    landed = Path(v1.tags["data_url"])
    assert landed.name == f"{v1.tags['data_fingerprint']}.parquet"
    assert pd.read_parquet(landed).shape == (569, 31)

    # the logged model is the whole Pipeline, loadable by alias, signature on the raw columns
    mlflow.set_tracking_uri(mlflow_server)
    model = mlflow.sklearn.load_model(f"models:/{name}@champion")
    assert [step for step, _ in model.steps] == ["derive", "preprocess", "model"]
    raw = pd.read_parquet(landed).drop(columns=["target"]).head(3)
    assert model.predict_proba(raw).shape == (3, 2)
    info = mlflow.models.get_model_info(f"models:/{name}/1")
    assert info.signature.inputs.input_names() == list(raw.columns)

    # 2. a deliberately worse model is rejected: registered as rejected, nothing moves
    worse = write_config(
        workspace,
        {**WORSE, "registry": {"model_name": name}, "publish": {"stores": [str(store)]}},
    )
    code, output = _run(worse, mlflow_server)
    assert code == 3, output
    assert "rejected" in output
    assert "worse than the champion" in client.get_model_version(name, "2").tags["gate"]
    assert client.get_model_version(name, "2").tags["validation_status"] == "rejected"
    assert _aliases(client, name) == {"champion": "1"}
    assert read_pointer(fs, root, name).version == "1"
    assert not fs.exists(f"{root}/{name}/versions/2")

    # a rejected version cannot be promoted without --force
    result = invoke(
        ["promote", name, "2", "--config", str(good)], env={"MLFLOW_TRACKING_URI": mlflow_server}
    )
    assert result.exit_code == 1
    assert "was rejected by the gate" in result.output
    assert _aliases(client, name) == {"champion": "1"}

    # 3. a second good run (another seed) replaces the champion, which becomes `previous`
    code, output = _run(
        write_config(
            workspace,
            {"seed": 3, "registry": {"model_name": name}, "publish": {"stores": [str(store)]}},
        ),
        mlflow_server,
    )
    assert code == 0, output
    assert _aliases(client, name) == {"champion": "3", "previous": "1"}
    assert read_pointer(fs, root, name).version == "3"

    # 4. rollback restores `previous` in the registry and in the store
    result = invoke(
        ["rollback", name, "--config", str(good)], env={"MLFLOW_TRACKING_URI": mlflow_server}
    )
    assert result.exit_code == 0, result.output
    assert f"{name}: champion → v1 (was v3)" in result.output
    assert _aliases(client, name) == {"champion": "1"}
    assert read_pointer(fs, root, name).version == "1"
    result = invoke(
        ["rollback", name, "--config", str(good)], env={"MLFLOW_TRACKING_URI": mlflow_server}
    )
    assert result.exit_code == 1
    assert "has no 'previous' version to roll back to" in result.output

    # 5. promote by hand, and show
    result = invoke(
        ["promote", name, "3", "--config", str(good)], env={"MLFLOW_TRACKING_URI": mlflow_server}
    )
    assert result.exit_code == 0, result.output
    assert _aliases(client, name) == {"champion": "3", "previous": "1"}
    assert json.loads(fs.cat_file(f"{root}/{name}/champion.json"))["version"] == "3"
    result = invoke(
        ["show", name, "--config", str(good)], env={"MLFLOW_TRACKING_URI": mlflow_server}
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("3" in line and "champion" in line and "accepted" in line for line in lines)
    assert any("2" in line and "rejected" in line for line in lines)
    assert any("1" in line and "previous" in line for line in lines)
    result = invoke(
        ["show", "no-such-model", "--config", str(good)], env={"MLFLOW_TRACKING_URI": mlflow_server}
    )
    assert result.exit_code == 1
    assert "no registered model named 'no-such-model'" in result.output
