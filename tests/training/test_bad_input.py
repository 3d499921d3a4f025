"""Every bad input: a clear message naming what is wrong and where, exit 1, no model registered, no
alias moved, nothing written to a model store or the data lake, and no MLflow run left behind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mlflow import MlflowClient

from tests.training.conftest import invoke, unique_name, write_config
from training.load import synthetic

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Registered:
    name: str
    store: Path
    directory: Path
    tracking_uri: str


def _store_snapshot(store: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store)): p.read_bytes() for p in store.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory, mlflow_server: str) -> Registered:
    """A model with a champion and a published store, which bad runs must leave untouched."""
    directory = tmp_path_factory.mktemp("bad-input")
    name, store = unique_name("bad-input"), directory / "store"
    config = write_config(directory, _settings(directory, name, store))
    result = invoke(["run", "--config", str(config)], env={"MLFLOW_TRACKING_URI": mlflow_server})
    assert result.exit_code == 0, result.output
    return Registered(name, store, directory, mlflow_server)


def _settings(directory: Path, name: str, store: Path) -> dict[str, Any]:
    return {
        "workdir": str(directory / ".stratus"),
        "land": {"processed_url": str(directory / "lake")},
        "registry": {"model_name": name},
        "publish": {"stores": [str(store)]},
    }


def _csv(directory: Path, name: str, change: Callable[[Any], Any]) -> str:
    frame = change(synthetic(120, 4, task="classification", seed=5, target="target"))
    path = directory / name
    frame.to_csv(path, index=False)
    return str(path)


def _single_class(frame: Any) -> Any:
    return frame.assign(target=0)


def _rare_class(in_holdout: int, in_training: int) -> Callable[[Any], Any]:
    """Class 1 on exactly ``in_holdout`` rows of the default holdout (test_size 0.2) and
    ``in_training`` rows of the training split; class 0 everywhere else."""

    def change(frame: Any) -> Any:
        from training.split import row_positions

        positions = row_positions(frame.assign(target=1))  # where each row goes as a positive
        holdout = [i for i in range(len(frame)) if positions[i] < 0.2][:in_holdout]
        training = [i for i in range(len(frame)) if positions[i] >= 0.2][:in_training]
        frame["target"] = 0
        frame.loc[holdout + training, "target"] = 1
        return frame

    return change


def _infinite(frame: Any) -> Any:
    frame.loc[3, "f01"] = np.inf
    return frame


def _string_labels(frame: Any) -> Any:
    return frame.assign(target=np.where(frame["target"] == 1, "yes", "no"))


def _identifier(frame: Any) -> Any:
    return frame.assign(user=[f"user-{i}" for i in range(len(frame))])


def _nan_target(frame: Any) -> Any:
    frame["target"] = frame["target"].astype("float64")
    frame.loc[[2, 9], "target"] = np.nan
    return frame


CASES: list[tuple[str, Callable[[Path], dict[str, Any]], list[str]]] = [
    (
        "missing file",
        lambda d: {"data": {"source": str(d / "nowhere.csv")}},
        ["data source not found:", "nowhere.csv"],
    ),
    (
        "unreadable format",
        lambda d: {"data": {"source": _write(d / "data.xlsx", b"PK\x03\x04 not a table")}},
        ["cannot tell the format of", "data.xlsx", "expected .csv or .parquet"],
    ),
    (
        "corrupt parquet",
        lambda d: {"data": {"source": _write(d / "data.parquet", b"PAR1 garbage")}},
        ["cannot read", "data.parquet as parquet"],
    ),
    (
        "wrong schema",
        lambda d: {
            "data": {
                "source": _csv(d, "schema.csv", lambda f: f.rename(columns={"f01": "other"})),
                "features": ["f00", "f01", "f02"],
            },
            "features": {"derived": []},
        },
        ["failed validation", "column 'f01': missing column"],
    ),
    (
        "header-only CSV",
        lambda d: {"data": {"source": _csv(d, "empty.csv", lambda f: f.head(0))}},
        ["empty.csv has no rows (a header of 5 columns only)"],
    ),
    (
        "inf in a feature",
        lambda d: {"data": {"source": _csv(d, "inf.csv", _infinite)}},
        ["column 'f01': contains infinite values (inf/-inf) (rows 3)"],
    ),
    (
        "invalid search value",
        lambda d: {"model": {"search": {"kind": "grid", "space": {"penalty": ["l2", "l3"]}}}},
        ["model.search.space: The 'penalty' parameter of LogisticRegression", "Got 'l3'"],
    ),
    (
        "invalid estimator parameter value",
        lambda d: {"model": {"params": {"C": -1.0}}},
        ["model.params: The 'C' parameter of LogisticRegression", "Got -1.0"],
    ),
    (
        "test_size too small",
        lambda d: {"split": {"test_size": 0.001}},
        ["split.test_size=0.001 puts 0 of 569 rows in the holdout", "no row of class 0"],
    ),
    (
        "a class too rare for the holdout",
        lambda d: {
            "data": {"source": _csv(d, "rare.csv", _rare_class(0, 2))},
            "gate": {"min": {"roc_auc": 0.5}},
        },
        ["no row of class 1 (2 rows of it in the data)"],
    ),
    (
        "a class too rare for every CV fold",
        lambda d: {
            "data": {"source": _csv(d, "folds.csv", _rare_class(1, 3))},
            "model": {"search": {"kind": "grid", "space": {"C": [0.1, 1.0]}, "cv": 5}},
        },
        ["CV fold", "has no row of class 1", "lower model.search.cv or add rows"],
    ),
    (
        "unknown positive label",
        lambda d: {"data": {"positive_label": 7}},
        ["data.positive_label 7 is not a label of the target (labels: 0, 1)"],
    ),
    (
        "string labels without a positive label",
        lambda d: {
            "data": {"source": _csv(d, "labels.csv", _string_labels), "positive_label": None}
        },
        ["data.positive_label: the binary target has labels 'no', 'yes'"],
    ),
    (
        "an identifier as a categorical",
        lambda d: {
            "data": {"source": _csv(d, "ids.csv", _identifier), "categorical": ["user"]},
            "validation": {"max_cardinality": 100},
        },
        ["column 'user': 120 distinct values in 120 rows, more than validation.max_cardinality"],
    ),
    (
        "single class",
        lambda d: {"data": {"source": _csv(d, "single.csv", _single_class)}},
        ["column 'target': target needs at least two classes"],
    ),
    (
        "NaN in target",
        lambda d: {"data": {"source": _csv(d, "nan.csv", _nan_target)}},
        ["column 'target': contains missing values (NaN/null) (rows 2, 9)"],
    ),
    (
        "invalid config",
        lambda d: {"gate": {"tolerance": -1}},
        ["invalid config", "gate.tolerance: Input should be greater than or equal to 0"],
    ),
]


def _write(path: Path, content: bytes) -> str:
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize(("case", "settings", "messages"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_reported_and_changes_nothing(
    registered: Registered,
    tmp_path: Path,
    case: str,
    settings: Callable[[Path], dict[str, Any]],
    messages: list[str],
) -> None:
    client = MlflowClient(
        tracking_uri=registered.tracking_uri, registry_uri=registered.tracking_uri
    )
    versions_before = len(client.search_model_versions(f"name = '{registered.name}'"))
    aliases_before = dict(client.get_registered_model(registered.name).aliases)
    store_before = _store_snapshot(registered.store)
    lake_before = _store_snapshot(registered.directory / "lake")
    runs_before = _runs(client)
    overrides = _settings(registered.directory, registered.name, registered.store)
    overrides.update(settings(tmp_path))
    if (
        "features" not in overrides
        and case != "invalid config"
        and "source" in overrides.get("data", {})
    ):
        overrides["features"] = {"derived": []}  # the CSVs have synthetic column names
    config = write_config(tmp_path, overrides)

    result = invoke(
        ["run", "--config", str(config)], env={"MLFLOW_TRACKING_URI": registered.tracking_uri}
    )

    assert result.exit_code == 1, result.output
    assert result.output.count("error:") == 1, result.output
    assert "must be numeric" not in result.output
    for message in messages:
        assert message in result.output
    assert len(client.search_model_versions(f"name = '{registered.name}'")) == versions_before
    assert dict(client.get_registered_model(registered.name).aliases) == aliases_before
    assert _store_snapshot(registered.store) == store_before
    assert _store_snapshot(registered.directory / "lake") == lake_before
    assert _runs(client) == runs_before  # no run started, so none left FAILED


def _runs(client: MlflowClient) -> list[tuple[str, str]]:
    experiment = client.get_experiment_by_name("stratus-training")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    return sorted((run.info.run_id, run.info.status) for run in runs)
