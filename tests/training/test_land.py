"""``training/land.py``: content-addressed landing of the validated data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from training.errors import DataSourceError
from training.land import RowSource, fingerprint, frame_slices, land, land_rows
from training.load import synthetic


def _frame(rows: int = 300) -> pd.DataFrame:
    return synthetic(rows, 6, task="classification", seed=2, target="target")


def test_fingerprint_is_content_based_and_landing_is_idempotent(tmp_path: Path) -> None:
    frame = _frame()
    assert fingerprint(frame) == fingerprint(frame.copy())
    changed = frame.copy()
    changed.loc[0, "f00"] += 1e-9
    assert fingerprint(changed) != fingerprint(frame)
    first = land(frame, str(tmp_path / "processed"))
    assert first.written
    assert Path(first.url) == tmp_path / "processed" / f"{first.fingerprint}.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(first.url), frame)
    again = land(frame.copy(), str(tmp_path / "processed"))
    assert not again.written
    assert again.url == first.url
    assert sorted(p.name for p in (tmp_path / "processed").iterdir()) == [Path(first.url).name]


def test_renaming_a_column_changes_the_fingerprint_and_lands_a_new_file(tmp_path: Path) -> None:
    """Same values under another column name are other data (the model's inputs differ)."""
    frame = _frame()
    renamed = frame.rename(columns={"f03": "f03_renamed"})
    assert fingerprint(renamed) != fingerprint(frame)
    first = land(frame, str(tmp_path / "processed"))
    second = land(renamed, str(tmp_path / "processed"))
    assert second.written
    assert second.url != first.url
    assert sorted(p.name for p in (tmp_path / "processed").iterdir()) == sorted(
        [Path(first.url).name, Path(second.url).name]
    )
    assert list(pd.read_parquet(second.url).columns) == list(renamed.columns)


def test_only_non_float_columns_are_dictionary_encoded(tmp_path: Path) -> None:
    """Measured floats are nearly all distinct: a dictionary would only be built and abandoned."""
    frame = _frame().assign(colour=lambda f: np.where(f["f00"] > 0, "red", "blue"))
    landed = land(frame, str(tmp_path / "processed"))
    row_group = pq.ParquetFile(landed.url).metadata.row_group(0)
    encodings = {
        row_group.column(i).path_in_schema: row_group.column(i).encodings
        for i in range(row_group.num_columns)
    }
    assert not any("RLE_DICTIONARY" in encodings[f"f{i:02d}"] for i in range(6))
    assert "RLE_DICTIONARY" in encodings["colour"]
    assert "RLE_DICTIONARY" in encodings["target"]
    pd.testing.assert_frame_equal(pd.read_parquet(landed.url), frame)


def test_rows_that_do_not_hash_to_the_fingerprint_are_not_landed(tmp_path: Path) -> None:
    """The landing writes rows rebuilt from the split: if they were not the fingerprinted data,
    nothing is written under that content address."""
    frame = _frame()
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    source = RowSource.of(frame, lambda size: frame_slices(shuffled, size))
    with pytest.raises(DataSourceError, match="do not hash to the data's fingerprint"):
        land_rows(source, str(tmp_path / "processed"))
    assert not (tmp_path / "processed").exists()
    landed = land_rows(RowSource.of(frame), str(tmp_path / "processed"))
    assert landed.fingerprint == fingerprint(frame)
    pd.testing.assert_frame_equal(pd.read_parquet(landed.url), frame)
