from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.config import TrainingConfig
from training.errors import DataValidationError
from training.load import synthetic
from training.validate import duplicate_fraction, validate_data


def _frame(rows: int = 60) -> pd.DataFrame:
    return synthetic(rows, 3, task="classification", seed=0, target="target")


def _failures(frame: pd.DataFrame, **config: object) -> list[str]:
    with pytest.raises(DataValidationError) as caught:
        validate_data(frame, TrainingConfig(**config), "data.csv")
    assert "data from data.csv failed validation" in str(caught.value)
    return caught.value.failures


def test_valid_data_is_restricted_to_features_and_target() -> None:
    frame = _frame().assign(extra="x")
    validated = validate_data(frame, TrainingConfig(data={"features": ["f00", "f02"]}), "s")
    assert list(validated.columns) == ["f00", "f02", "target"]


def test_wrong_schema_missing_columns_and_wrong_types() -> None:
    frame = _frame().assign(city="Paris")
    failures = _failures(frame.drop(columns=["target"]), data={"features": ["f00", "f09"]})
    assert "column 'f09': missing column" in failures
    assert "column 'target': missing column" in failures
    failures = _failures(frame)
    assert failures == [
        "column 'city': must be numeric (declare it in data.categorical if it is a category)"
    ]
    validate_data(frame, TrainingConfig(data={"categorical": ["city"]}), "s")


def test_empty_data() -> None:
    failures = _failures(_frame().head(0))
    assert "data: needs at least 50 rows" in failures


def test_single_class() -> None:
    frame = _frame().assign(target=1)
    assert "column 'target': target needs at least two classes" in _failures(frame)


def test_nan_in_target() -> None:
    frame = _frame()
    frame["target"] = frame["target"].astype("float64")
    frame.loc[[3, 7], "target"] = np.nan
    assert "column 'target': contains missing values (NaN/null) (rows 3, 7)" in _failures(frame)


def test_all_failures_are_collected_together() -> None:
    frame = _frame(40)
    frame.loc[0, "f00"] = np.nan
    frame.loc[1, "f01"] = -50.0
    frame = pd.concat([frame, frame.iloc[[5]]], ignore_index=True)
    failures = _failures(frame, validation={"ranges": {"f01": {"min": -10}}, "min_class_count": 30})
    assert failures == [
        "data: needs at least 50 rows",
        "data: more than 0% of the rows are duplicates",
        "column 'f00': contains missing values (NaN/null) (rows 0)",
        "column 'f01': values below the allowed minimum -10.0 (rows 1)",
        "column 'target': every class needs at least 30 rows",
    ]


def test_null_fraction_and_regression_target() -> None:
    frame = _frame(100)
    frame.loc[:9, "f00"] = np.nan
    validate_data(frame, TrainingConfig(validation={"max_null_fraction": 0.1}), "s")
    assert "data: column 'f00' has more than 5% missing values" in _failures(
        frame, validation={"max_null_fraction": 0.05}
    )
    regression = _frame().assign(target="high")
    failures = _failures(
        regression, model={"task": "regression", "estimator": "ridge"}, data={"source": "x.csv"}
    )
    assert "column 'target': regression target must be numeric" in failures


def test_duplicate_fraction_counts_exact_repeats_only() -> None:
    frame = _frame(100)
    assert duplicate_fraction(frame) == 0.0
    repeated = pd.concat([frame, frame.iloc[[1, 2, 2]]], ignore_index=True)
    assert duplicate_fraction(repeated) == pytest.approx(3 / 103)
    nearly = pd.concat([frame, frame.iloc[[1]].assign(f00=lambda f: f["f00"] + 1e-12)])
    assert duplicate_fraction(nearly) == 0.0
    assert duplicate_fraction(frame.head(0)) == 0.0


def test_values_above_the_configured_maximum_are_reported() -> None:
    frame = _frame()
    frame.loc[4, "f02"] = 99.0
    frame.loc[8, "f02"] = 12.5
    failures = _failures(frame, validation={"ranges": {"f02": {"max": 10}}})
    assert failures == ["column 'f02': values above the allowed maximum 10.0 (rows 4, 8)"]
    validate_data(frame, TrainingConfig(validation={"ranges": {"f02": {"max": 100}}}), "s")


def test_infinite_values_are_reported() -> None:
    frame = _frame()
    frame.loc[2, "f00"] = np.inf
    frame.loc[5, "f01"] = -np.inf
    assert _failures(frame) == [
        "column 'f00': contains infinite values (inf/-inf) (rows 2)",
        "column 'f01': contains infinite values (inf/-inf) (rows 5)",
    ]
    regression = _frame().assign(target=lambda f: f["f00"] * 2.0)
    regression.loc[7, "target"] = np.inf
    failures = _failures(
        regression, model={"task": "regression", "estimator": "ridge"}, data={"source": "x.csv"}
    )
    assert failures == ["column 'target': contains infinite values (inf/-inf) (rows 7)"]


def test_categorical_cardinality_is_bounded() -> None:
    from training.validate import cardinality_notes

    frame = _frame(60).assign(
        user=[f"u{i}" for i in range(60)], city=[f"c{i % 12}" for i in range(60)]
    )
    config = TrainingConfig(
        data={"categorical": ["user", "city"]},
        validation={"max_cardinality": 40},
        features={"max_categories": 10},
    )
    with pytest.raises(DataValidationError) as caught:
        validate_data(frame, config, "data.csv")
    assert caught.value.failures == [
        "column 'user': 60 distinct values in 60 rows, more than validation.max_cardinality=40 "
        "(an identifier or free text is not a category: drop it from data.features, or raise "
        "the limit)"
    ]
    assert cardinality_notes(frame, config) == [
        "warning: column 'city' has 12 distinct values; the 9 most frequent get a one-hot column "
        "each, the rest share one 'infrequent' column (features.max_categories)"
    ]
