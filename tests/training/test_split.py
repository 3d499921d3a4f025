"""``training/split.py``: a row's side is a function of its content only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.config import TrainingConfig
from training.load import synthetic
from training.metrics import metric_spec
from training.split import check_split, row_positions, rows_in_order, split


def _frame(rows: int = 500, seed: int = 2) -> pd.DataFrame:
    return synthetic(rows, 5, task="classification", seed=seed, target="target")


def _holdout_rows(frame: pd.DataFrame, **config: object) -> set[int]:
    return set(split(frame, TrainingConfig(**config)).x_test.index)


def test_the_holdout_is_the_same_for_every_seed() -> None:
    frame = _frame()
    assert _holdout_rows(frame, seed=1) == _holdout_rows(frame, seed=2) == _holdout_rows(frame)
    share = len(_holdout_rows(frame)) / len(frame)
    assert 0.15 < share < 0.25


def test_new_rows_do_not_move_old_rows() -> None:
    old = _frame(400)
    grown = pd.concat([old, _frame(300, seed=9)], ignore_index=True)
    assert _holdout_rows(grown) & set(old.index) == _holdout_rows(old)


def test_a_smaller_test_size_takes_a_subset_of_the_holdout() -> None:
    frame = _frame()
    small = _holdout_rows(frame, split={"test_size": 0.1})
    assert small < _holdout_rows(frame, split={"test_size": 0.2})


def test_positions_ignore_column_order_and_integer_vs_float_storage() -> None:
    frame = _frame().assign(count=lambda f: (f["f00"] * 10).round().astype("int64"))
    reordered = frame[list(reversed(frame.columns))]
    as_float = frame.assign(count=frame["count"].astype("float64"))
    np.testing.assert_array_equal(row_positions(frame), row_positions(reordered))
    np.testing.assert_array_equal(row_positions(frame), row_positions(as_float))
    renamed = frame.rename(columns={"count": "total"})
    assert not np.array_equal(row_positions(frame), row_positions(renamed))


def test_duplicate_rows_land_on_the_same_side() -> None:
    frame = _frame(200)
    doubled = pd.concat([frame, frame], ignore_index=True)
    positions = row_positions(doubled)
    np.testing.assert_array_equal(positions[:200], positions[200:])


def test_categorical_and_missing_values_hash_deterministically() -> None:
    frame = _frame(50).assign(city=["north", "south", None, "east", "west"] * 10)
    again = frame.copy()
    np.testing.assert_array_equal(row_positions(frame), row_positions(again))
    assert ((row_positions(frame) >= 0) & (row_positions(frame) < 1)).all()


def test_check_split_names_the_missing_class() -> None:
    frame = _frame(100)
    config = TrainingConfig(split={"test_size": 0.001})
    data = split(frame, config)
    spec = metric_spec("classification", frame["target"], None)
    problems = check_split(data, spec)
    assert problems[0].startswith("split.test_size=0.001 puts 0 of 100 rows in the holdout")
    assert "no row of class 0" in problems[0]
    assert "no row of class 1" in problems[1]


def test_rows_in_order_rebuilds_the_split_frame_chunk_by_chunk() -> None:
    """The landing writes the data from the split (the frame is dropped before training): the
    chunks are the frame again — row order, column order, dtypes, missing values, duplicates."""
    frame = _frame(300).assign(
        colour=lambda f: pd.Categorical(np.where(f["f00"] > 0, "red", "blue")),
        note=lambda f: np.where(f["f01"] > 1, None, "text"),
    )
    frame.loc[5, "f02"] = np.nan
    frame = pd.concat([frame, frame.head(20)], ignore_index=True)  # duplicates stay together
    frame = frame[["f00", "target", *[c for c in frame.columns if c not in ("f00", "target")]]]
    data = split(frame, TrainingConfig())
    assert 0 < len(data.y_test) < len(frame)
    columns = list(frame.columns)
    for size in (1, 7, 64, 10_000):
        chunks = list(rows_in_order(data, columns, "target", size))
        assert max(len(chunk) for chunk in chunks) <= size
        pd.testing.assert_frame_equal(
            pd.concat(chunks, ignore_index=True), frame.reset_index(drop=True)
        )
