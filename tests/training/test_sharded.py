"""The sharded search against a real ``mlflow server``: three shard processes of the real CLI in
parallel, then ``finalize``, give exactly what a single-process ``run`` gives; a shard killed
mid-way and re-run changes nothing; ``finalize`` with a shard missing names it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from tests.training.conftest import Killed, invoke, unique_name, write_config
from training.config import load_config
from training.progress import SilentReporter
from training.sharded import run_shard
from training.shards import Shard
from training.trials import ROLE_TAG, SEARCH_ID_TAG

pytestmark = pytest.mark.slow

SHARDS = 3
#: A random search (ParameterSampler's draw) of 4 candidates x 3 folds = 12 trials, 4 per shard.
SEARCH: dict[str, Any] = {
    "model": {
        "n_jobs": 1,
        "search": {
            "kind": "random",
            "space": {"C": [0.001, 0.01, 0.1, 1.0, 10.0]},
            "n_iter": 4,
            "cv": 3,
        },
    }
}


class KilledAfterOneTrial(SilentReporter):
    """Stands for a shard killed right after it logged its first trial."""

    def trial(self, done: int, total: int) -> None:
        if done > 0:
            raise Killed(f"after trial {done} of {total}")


def _config(workspace: Path, name: str) -> Path:
    overrides = {
        **SEARCH,
        "registry": {"model_name": name},
        "publish": {"stores": [str(workspace / f"store-{name}")]},
    }
    return write_config(workspace, overrides)


def _shard_process(config: Path, shard: str, search_id: str, uri: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "training", "run", "--config", str(config)]
    command += ["--shard", shard, "--search-id", search_id, "--tracking-uri", uri]
    env = {k: v for k, v in os.environ.items() if k != "JOB_COMPLETION_INDEX"}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


def _finish(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    return output


def _outcome(client: MlflowClient, name: str) -> dict[str, Any]:
    """What a run decided, read back from MLflow: the version's run's CV trials and best params,
    and the registered model's predictions on the default dataset."""
    version = client.get_model_version(name, "1")
    run = client.get_run(version.run_id)
    path = mlflow.artifacts.download_artifacts(
        run_id=version.run_id, artifact_path="search_trials.json"
    )
    from sklearn.datasets import load_breast_cancer

    features = load_breast_cancer(as_frame=True).data
    model = mlflow.sklearn.load_model(f"models:/{name}/1")
    return {
        "trials": json.loads(Path(path).read_text()),
        "best": {k: v for k, v in run.data.params.items() if k.startswith("best.")},
        "cv": run.data.metrics["cv_roc_auc"],
        "test": {k: v for k, v in run.data.metrics.items() if k.startswith("test_")},
        "status": version.tags["validation_status"],
        "predictions": model.predict(features),
        "probabilities": model.predict_proba(features),
    }


def _same(sharded: dict[str, Any], single: dict[str, Any]) -> None:
    assert sharded["trials"] == single["trials"]  # every candidate's every fold score, exactly
    assert sharded["best"] == single["best"]
    assert sharded["cv"] == single["cv"]
    assert sharded["test"] == single["test"]
    assert sharded["status"] == single["status"] == "accepted"
    np.testing.assert_array_equal(sharded["predictions"], single["predictions"])
    np.testing.assert_array_equal(sharded["probabilities"], single["probabilities"])


def test_sharded_search_is_identical_to_a_single_process_run(
    workspace: Path, mlflow_server: str
) -> None:
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    single_name, sharded_name = unique_name("single"), unique_name("sharded")
    search_id = unique_name("search")

    processes = [
        _shard_process(_config(workspace, sharded_name), f"{i}/{SHARDS}", search_id, mlflow_server)
        for i in range(SHARDS)
    ]
    outputs = [_finish(process) for process in processes]
    for i, output in enumerate(outputs):
        assert f"shard {i}/{SHARDS}: 4 trial(s) run, 0 already logged" in output

    # One parent run (the shards raced to create it), twelve trial runs under it.
    experiment = client.get_experiment_by_name("stratus-training")
    assert experiment is not None
    runs = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`{SEARCH_ID_TAG}` = '{search_id}'"
    )
    (parent,) = [r for r in runs if r.data.tags[ROLE_TAG] == "search"]
    children = [r for r in runs if r.data.tags[ROLE_TAG] == "trial"]
    assert len(children) == 12
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}

    sharded_config = _config(workspace, sharded_name)
    result = invoke(
        ["finalize", "--search-id", search_id, "--config", str(sharded_config),
         "--tracking-uri", mlflow_server]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Registered model: {sharded_name} version 1 (aliases: champion)" in result.output
    assert client.get_model_version(sharded_name, "1").run_id == parent.info.run_id

    single = invoke(
        ["run", "--config", str(_config(workspace, single_name)), "--tracking-uri", mlflow_server]
    )
    assert single.exit_code == 0, single.output
    _same(_outcome(client, sharded_name), _outcome(client, single_name))


def test_a_killed_shard_rerun_alone_completes_the_search(
    workspace: Path, mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    single_name, sharded_name = unique_name("single"), unique_name("sharded")
    search_id = unique_name("search")
    config_path = _config(workspace, sharded_name)
    finalize = ["finalize", "--search-id", search_id, "--config", str(config_path)]
    finalize += ["--tracking-uri", mlflow_server]

    # Shards 0 and 2 run in full; shard 1 is killed right after logging its first trial.
    for index in (0, 2):
        done = invoke(["run", "--config", str(config_path), "--shard", f"{index}/{SHARDS}",
                       "--search-id", search_id, "--tracking-uri", mlflow_server])  # fmt: skip
        assert done.exit_code == 0, done.output
    with pytest.raises(Killed):
        run_shard(
            load_config(config_path),
            Shard(1, SHARDS),
            search_id,
            KilledAfterOneTrial(),
            tracking_uri=mlflow_server,
        )

    missing = invoke(finalize)
    assert missing.exit_code == 1
    assert f"search {search_id!r} is incomplete: missing trials of shard 1/3 (3 trial(s))" in (
        missing.output
    )
    assert "shard 0/3" not in missing.output
    assert "shard 2/3" not in missing.output
    assert not client.search_registered_models(f"name = '{sharded_name}'")  # nothing registered

    # Re-run alone (through JOB_COMPLETION_INDEX, as a retried pod of the Indexed Job would).
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "1")
    monkeypatch.setenv("STRATUS_TRAINING_SHARD_COUNT", str(SHARDS))
    rerun = invoke(["run", "--config", str(config_path), "--search-id", search_id,
                    "--tracking-uri", mlflow_server])  # fmt: skip
    assert rerun.exit_code == 0, rerun.output
    assert f"shard 1/{SHARDS}: 3 trial(s) run, 1 already logged" in rerun.output
    monkeypatch.delenv("JOB_COMPLETION_INDEX")
    monkeypatch.delenv("STRATUS_TRAINING_SHARD_COUNT")

    finished = invoke(finalize)
    assert finished.exit_code == 0, finished.output
    single = invoke(
        ["run", "--config", str(_config(workspace, single_name)), "--tracking-uri", mlflow_server]
    )
    assert single.exit_code == 0, single.output
    _same(_outcome(client, sharded_name), _outcome(client, single_name))


def test_finalize_of_a_search_no_shard_has_run(workspace: Path, mlflow_server: str) -> None:
    name, search_id = unique_name(), unique_name("search")
    result = invoke(["finalize", "--search-id", search_id, "--config",
                     str(_config(workspace, name)), "--tracking-uri", mlflow_server])  # fmt: skip
    assert result.exit_code == 1
    assert f"search {search_id!r} has no shard logged" in result.output
