"""``training/landing.py``: the data is landed while the model trains, and a run whose landing
fails registers nothing and leaves no MLflow run behind."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.training.conftest import Hook, Killed, unique_name, write_config
from training.config import TrainingConfig, load_config
from training.errors import DataSourceError
from training.land import LandedData, RowSource, land
from training.landing import landing_in_background, verify_landed
from training.load import synthetic
from training.progress import SilentReporter
from training.runner import run_pipeline


def _config(workspace: Path) -> TrainingConfig:
    name = unique_name("landing")
    path = write_config(
        workspace,
        {"registry": {"model_name": name, "tracking_uri": f"sqlite:///{workspace / 'mlflow.db'}"}},
    )
    return load_config(path)


def _registry_state(config: TrainingConfig) -> tuple[list[str], int]:
    """(the model's versions, the number of runs in the experiment)."""
    client = MlflowClient(tracking_uri=config.registry.tracking_uri)
    versions = sorted(
        str(v.version)
        for v in client.search_model_versions(f"name = '{config.registry.model_name}'")
    )
    experiment = client.get_experiment_by_name(config.registry.experiment)
    runs = client.search_runs([experiment.experiment_id]) if experiment is not None else []
    return versions, len(runs)


def test_a_landed_file_that_fails_verification_stops_the_run_before_mlflow(
    workspace: Path,
) -> None:
    """The same data lands at the same address; if the file there is damaged, the next run trains
    and evaluates, then stops on the verification: no new run, no new version."""
    config = _config(workspace)
    first = run_pipeline(config)
    assert _registry_state(config) == (["1"], 1)
    landed = Path(first.landed.url)
    landed.write_bytes(landed.read_bytes()[: landed.stat().st_size // 2])  # a torn file

    reporter = SilentReporter()
    with pytest.raises(DataSourceError, match="is not a readable Parquet file") as caught:
        run_pipeline(config, reporter)
    assert str(landed) in str(caught.value)
    assert "nothing was registered" in str(caught.value)
    assert {"train", "evaluate", "land"} <= set(reporter.timings)
    assert "log model" not in reporter.timings
    assert _registry_state(config) == (["1"], 1)


def test_a_landing_killed_while_training_registers_nothing(workspace: Path) -> None:
    """Landing runs beside training: killed there, the run still refuses to log or register."""
    config = _config(workspace)
    reporter = Hook("land", kill=True)
    with pytest.raises(Killed):
        run_pipeline(config, reporter)
    assert "train" in reporter.timings  # training went on while the landing thread died
    assert "log model" not in reporter.timings
    assert _registry_state(config) == ([], 0)


def test_leaving_the_block_early_waits_for_the_landing(tmp_path: Path) -> None:
    """An error in training leaves the block at once; the landing has finished by then (the file
    is whole under its final name, no temporary file is left)."""
    frame = synthetic(20_000, 8, task="classification", seed=3, target="target")
    source, lake = RowSource.of(frame), str(tmp_path / "lake")
    with (
        pytest.raises(RuntimeError, match="training failed"),
        landing_in_background(source, lake, SilentReporter()),
    ):
        raise RuntimeError("training failed")
    landed = tmp_path / "lake" / f"{source.fingerprint}.parquet"
    assert list((tmp_path / "lake").iterdir()) == [landed]
    pd.testing.assert_frame_equal(pd.read_parquet(landed), frame)


def test_verify_landed_rejects_a_file_of_another_shape(tmp_path: Path) -> None:
    frame = synthetic(300, 4, task="classification", seed=1, target="target")
    landed = land(frame, str(tmp_path / "lake"))
    verify_landed(landed)
    claimed = LandedData(landed.fingerprint, landed.url, 301, landed.columns, written=False)
    with pytest.raises(DataSourceError, match="holds 300 rows x 5 columns, not the 301 x 5"):
        verify_landed(claimed)
