"""Every bad input: a clear message naming what is wrong and where, a non-zero exit, no model
registered, no alias moved, nothing written to a model store."""

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
        "empty data",
        lambda d: {"data": {"source": _csv(d, "empty.csv", lambda f: f.head(0))}},
        ["failed validation", "data: needs at least 50 rows"],
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
    assert "error:" in result.output
    for message in messages:
        assert message in result.output
    assert len(client.search_model_versions(f"name = '{registered.name}'")) == versions_before
    assert dict(client.get_registered_model(registered.name).aliases) == aliases_before
    assert _store_snapshot(registered.store) == store_before
