"""Stage 4 — split: each row's side (training or holdout) is decided by a hash of its content.

Why not a seeded random split: the gate compares the candidate with the champion on rows that
neither trained on. With a seeded split, another seed (or a few new rows) moves most of the
champion's training rows into the candidate's holdout, and the champion, re-scored there, looks
better than it is (an inflated 1.0 that rejects a sound candidate). Here every row gets a position
``u`` in [0, 1) from a hash of its values, and it is in the holdout iff ``u < split.test_size``:

* the same data gives the same holdout for every run and every seed;
* new rows do not move old rows across; removed rows take nothing else with them;
* a model trained with test size ``t`` never saw a row with ``u < t``. So the rows neither the
  champion (trained with ``t_c``) nor the candidate (``t``) trained on are the candidate's holdout
  rows with ``u < min(t, t_c)`` — the gate scores both there (``training/compare.py``).

The hash (``SPLIT_RULE``) is ours, not pandas': columns in name order, numbers as float64 (so an
integer column read back as float keeps its rows' sides), anything else by its text, mixed with the
splitmix64 finaliser. Identical rows land on the same side, so a duplicate cannot leak from the
training split into the holdout. The holdout is not stratified: ``check_split`` requires every class
on both sides with a clear error (a seeded stratified split would hide the same problem behind a
NaN metric).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.config import TrainingConfig
from training.metrics import MetricSpec

SPLIT_RULE = "row-hash-v1"

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MISSING = np.uint64(0x9E3779B97F4A7C15)


@dataclass
class SplitData:
    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
    #: ``u`` of every holdout row (aligned with ``x_test``): which rows another model saw.
    test_positions: np.ndarray
    test_size: float
    #: One flag per row of the split frame, in its order: the row went to the holdout.
    holdout: np.ndarray


def _mix(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, element-wise on a uint64 array (wrapping arithmetic)."""
    z = z ^ (z >> np.uint64(30))
    z = z * _M1
    z = z ^ (z >> np.uint64(27))
    z = z * _M2
    return z ^ (z >> np.uint64(31))


def _text_hash(text: str) -> np.uint64:
    return np.uint64(
        int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    )


def _value_hashes(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan) + 0.0  # -0.0 → 0.0
        hashes = values.view(np.uint64).copy()
        hashes[np.isnan(values)] = _MISSING
        return hashes
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    table = np.array([*(_text_hash(str(value)) for value in uniques), _MISSING], dtype=np.uint64)
    return table[codes]  # the NA code -1 picks the last entry


def row_positions(frame: pd.DataFrame) -> np.ndarray:
    """Each row's position ``u`` in [0, 1): a function of its values only (``SPLIT_RULE``)."""
    key = np.zeros(len(frame), dtype=np.uint64)
    for name in sorted(frame.columns, key=str):
        key = _mix(key + _mix(_value_hashes(frame[name]) ^ _text_hash(str(name))))
    return (key >> np.uint64(11)).astype(np.float64) * 2.0**-53


def split(frame: pd.DataFrame, config: TrainingConfig) -> SplitData:
    """Training and holdout parts of the validated frame (features + target)."""
    target = config.data.target
    positions = row_positions(frame)
    holdout = positions < config.split.test_size
    x = frame.drop(columns=[target])
    y = frame[target]
    return SplitData(
        x_train=x.loc[~holdout],
        x_test=x.loc[holdout],
        y_train=y.loc[~holdout],
        y_test=y.loc[holdout],
        test_positions=positions[holdout],
        test_size=config.split.test_size,
        holdout=holdout,
    )


def rows_in_order(
    data: SplitData, columns: list[str], target: str, rows_per_chunk: int
) -> Iterator[pd.DataFrame]:
    """The split frame again, ``rows_per_chunk`` rows at a time in its own row order and with
    ``columns`` (its columns, the target among them) in order: the inverse of ``split``, so the
    frame itself need not be kept (the landing writes these chunks while the model trains,
    ``training/landing.py``). Each chunk costs two copies of its own size, nothing more."""
    position = columns.index(target)
    train_at = test_at = 0
    for start in range(0, len(data.holdout), rows_per_chunk):
        held = data.holdout[start : start + rows_per_chunk]
        tests = int(held.sum())
        trains = len(held) - tests
        train_rows, test_rows = slice(train_at, train_at + trains), slice(test_at, test_at + tests)
        order = np.empty(len(held), dtype=np.intp)
        order[~held] = np.arange(trains)
        order[held] = trains + np.arange(tests)
        features = pd.concat(
            [data.x_train.iloc[train_rows], data.x_test.iloc[test_rows]], ignore_index=True
        ).take(order)
        labels = pd.concat(
            [data.y_train.iloc[train_rows], data.y_test.iloc[test_rows]], ignore_index=True
        ).take(order)
        features.insert(position, target, labels)
        yield features.reset_index(drop=True)
        train_at, test_at = train_at + trains, test_at + tests


def check_split(data: SplitData, spec: MetricSpec) -> list[str]:
    """Problems that would make the holdout metrics meaningless (every one, together)."""
    rows = len(data.y_train) + len(data.y_test)
    where = (
        f"split.test_size={data.test_size:g} puts {len(data.y_test)} of {rows} rows in the holdout"
    )
    if spec.task == "regression":
        if len(data.y_test) < 2 or len(data.y_train) < 2:
            return [f"{where}; training and holdout need at least 2 rows each"]
        return []
    failures: list[str] = []
    in_test = pd.Series(data.y_test).value_counts()
    in_train = pd.Series(data.y_train).value_counts()
    for label in spec.classes:
        total = int(in_test.get(label, 0)) + int(in_train.get(label, 0))
        if int(in_test.get(label, 0)) == 0:
            failures.append(
                f"{where}, with no row of class {label!r} ({total} rows of it in the data): "
                "every class must be in the holdout (raise split.test_size or add rows)"
            )
        if int(in_train.get(label, 0)) == 0:
            failures.append(
                f"the training split has no row of class {label!r} ({total} rows of it in the "
                "data): every class must be trained on (lower split.test_size or add rows)"
            )
    return failures
