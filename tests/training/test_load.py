from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from training.config import DataConfig
from training.errors import DataSourceError
from training.load import load_data, synthetic


def _load(source: str, **data: object) -> pd.DataFrame:
    return load_data(
        DataConfig(source=source, **data), source=source, task="classification", seed=1
    )


def test_default_is_the_bundled_breast_cancer_dataset() -> None:
    frame = _load("default")
    assert frame.shape == (569, 31)
    assert set(frame["target"].unique()) == {0, 1}
    assert "mean radius" in frame.columns


def test_bundled_regression_dataset() -> None:
    frame = load_data(
        DataConfig(source="sklearn:diabetes"), source="sklearn:diabetes", task="regression", seed=1
    )
    assert frame.shape == (442, 11)
    with pytest.raises(DataSourceError, match="unknown bundled dataset 'sklearn:iris'"):
        _load("sklearn:iris")


def test_synthetic_is_deterministic_for_a_seed() -> None:
    first = synthetic(200, 6, task="classification", seed=3, target="y")
    again = synthetic(200, 6, task="classification", seed=3, target="y")
    other = synthetic(200, 6, task="classification", seed=4, target="y")
    assert list(first.columns) == ["f00", "f01", "f02", "f03", "f04", "f05", "y"]
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    assert _load("synthetic:50").shape == (50, 21)


def test_csv_and_parquet_from_a_local_path(tmp_path: Path) -> None:
    frame = _load("default").head(100)
    frame.to_csv(tmp_path / "data.csv", index=False)
    frame.to_parquet(tmp_path / "data.parquet", index=False)
    pd.testing.assert_frame_equal(_load(str(tmp_path / "data.parquet")), frame)
    from_csv = _load(f"file://{tmp_path / 'data.csv'}")
    assert from_csv.shape == frame.shape
    assert list(from_csv.columns) == list(frame.columns)
    # data.format overrides the extension
    (tmp_path / "data.dump").write_bytes((tmp_path / "data.parquet").read_bytes())
    assert _load(str(tmp_path / "data.dump"), format="parquet").shape == frame.shape


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match=r"data source not found: .*absent\.csv"):
        _load(str(tmp_path / "absent.csv"))


def test_unreadable_formats_are_reported(tmp_path: Path) -> None:
    (tmp_path / "data.json").write_text("{}")
    with pytest.raises(DataSourceError, match=r"cannot tell the format of .*data\.json.*'\.json'"):
        _load(str(tmp_path / "data.json"))
    (tmp_path / "data.parquet").write_bytes(b"this is not parquet at all")
    with pytest.raises(DataSourceError, match=r"cannot read .*data\.parquet as parquet"):
        _load(str(tmp_path / "data.parquet"))
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DataSourceError, match=r"empty\.csv is empty \(no header, no rows\)"):
        _load(str(tmp_path / "empty.csv"))
