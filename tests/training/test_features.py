"""``training/features.py``: derived columns, imputation, bounded sparse one-hot encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from training.config import TrainingConfig
from training.errors import ConfigError
from training.load import synthetic
from training.runner import prepare_model


def _frame(rows: int = 300) -> pd.DataFrame:
    return synthetic(rows, 6, task="classification", seed=2, target="target")


def test_pipeline_derives_features_and_one_hot_encodes_categoricals() -> None:
    frame = _frame().assign(city=lambda f: np.where(f["f00"] > 0, "north", "south"))
    config = TrainingConfig(
        data={"categorical": ["city"]},
        features={
            "derived": [
                {"name": "ratio", "kind": "ratio", "columns": ["f00", "f01"]},
                {"name": "log_f02", "kind": "log1p", "columns": ["f02"]},
            ]
        },
    )
    features = [c for c in frame.columns if c != "target"]
    model = prepare_model(config, features).fit(frame[features], frame["target"])
    names = list(model[:-1].get_feature_names_out())
    assert names[-2:] == ["city_north", "city_south"]
    assert {"ratio", "log_f02"} <= set(names)
    unseen = frame[features].head(2).assign(city="west")  # unknown category is ignored
    assert model.predict_proba(unseen).shape == (2, 2)


def _with_identifier(rows: int) -> pd.DataFrame:
    frame = synthetic(rows, 4, task="classification", seed=3, target="target")
    return frame.assign(account=[f"acct-{i % (rows * 4 // 5)}" for i in range(rows)])


def test_a_high_cardinality_categorical_is_encoded_sparse_and_bounded() -> None:
    """An ID-like column of 3,000 rows x 2,400 values: sparse output, at most max_categories
    one-hot columns (the rest 'infrequent'), instead of a dense 3,000 x 2,400 matrix."""
    frame = _with_identifier(3000)
    features = [c for c in frame.columns if c != "target"]
    unbounded = TrainingConfig(
        data={"categorical": ["account"]},
        features={"max_categories": None, "derived": []},
        validation={"max_cardinality": 10_000},
    )
    model = prepare_model(unbounded, features).fit(frame[features], frame["target"])
    encoded = model[:-1].transform(frame[features])
    assert scipy.sparse.issparse(encoded)
    assert encoded.shape == (3000, 4 + 2400)
    bounded = TrainingConfig(
        data={"categorical": ["account"]},
        features={"max_categories": 20, "derived": []},
        validation={"max_cardinality": 10_000},
    )
    model = prepare_model(bounded, features).fit(frame[features], frame["target"])
    names = list(model[:-1].get_feature_names_out())
    assert len([n for n in names if n.startswith("account_")]) == 20
    assert "account_infrequent_sklearn" in names
    unseen = frame[features].head(3).assign(account="never-seen")  # → the infrequent column
    assert model.predict_proba(unseen).shape == (3, 2)


def test_min_frequency_groups_rare_categories() -> None:
    frame = _frame().assign(city=["a"] * 200 + ["b"] * 90 + ["c"] * 5 + ["d"] * 5)
    config = TrainingConfig(
        data={"categorical": ["city"]}, features={"min_frequency": 10, "derived": []}
    )
    features = [c for c in frame.columns if c != "target"]
    model = prepare_model(config, features).fit(frame[features], frame["target"])
    names = [n for n in model[:-1].get_feature_names_out() if n.startswith("city_")]
    assert names == ["city_a", "city_b", "city_infrequent_sklearn"]


def test_hist_gradient_boosting_gets_dense_input() -> None:
    frame = _with_identifier(600)
    config = TrainingConfig(
        data={"categorical": ["account"]},
        features={"derived": [], "max_categories": 30},
        model={"estimator": "hist_gradient_boosting", "search": {"kind": "none"}},
    )
    features = [c for c in frame.columns if c != "target"]
    model = prepare_model(config, features).fit(frame[features], frame["target"])
    assert not scipy.sparse.issparse(model[:-1].transform(frame[features].head(5)))


def test_passthrough_numeric_columns_for_nan_native_estimators() -> None:
    frame = _frame()
    frame.loc[:20, "f01"] = np.nan
    config = TrainingConfig(
        features={"scale": False, "numeric_imputer": "none"},
        model={"estimator": "hist_gradient_boosting", "search": {"kind": "none"}},
    )
    features = [c for c in frame.columns if c != "target"]
    model = prepare_model(config, features).fit(frame[features], frame["target"])
    assert model.named_steps["preprocess"].get_feature_names_out().tolist() == features
    assert model.predict_proba(frame[features].head(30)).shape == (30, 2)
    with pytest.raises(ValueError, match="'none' needs an estimator that handles missing values"):
        TrainingConfig(features={"numeric_imputer": "none"})


def test_passed_through_numeric_columns_are_not_copied_and_predict_the_same() -> None:
    """Numeric-only preprocessing hands the estimator the training rows' own memory (a copy
    held through the whole fit was most of the pipeline's peak memory above a plain fit)."""
    frame = _frame()
    config = TrainingConfig(
        features={"derived": [], "scale": False, "numeric_imputer": "none"},
        model={"estimator": "hist_gradient_boosting", "search": {"kind": "none"}},
    )
    features = [c for c in frame.columns if c != "target"]
    x = frame[features].copy()
    model = prepare_model(config, features).fit(x, frame["target"])
    assert np.shares_memory(model[:-1].transform(x), x.to_numpy())
    # the columns are picked by name, in the training order, whatever the order given
    shuffled = x[features[::-1]]
    np.testing.assert_array_equal(model.predict_proba(shuffled), model.predict_proba(x))
    np.testing.assert_array_equal(model.predict_proba(x), model[-1].predict_proba(x.to_numpy()))
    with pytest.raises(ValueError, match="needs a DataFrame"):
        model.predict_proba(x.to_numpy())  # by name, like a ColumnTransformer
    with pytest.raises(ValueError, match=r"columns are missing: \['f01'\]"):
        model.predict_proba(x.drop(columns=["f01"]))


def test_config_mistakes_in_features_and_search_space_are_config_errors() -> None:
    config = TrainingConfig(
        features={"derived": [{"name": "r", "kind": "ratio", "columns": ["f00", "nope"]}]}
    )
    with pytest.raises(
        ConfigError, match=r"features.derived uses column\(s\) that are not features: \['nope'\]"
    ):
        prepare_model(config, ["f00", "f01"])
    config = TrainingConfig(model={"search": {"space": {"depth": [1, 2]}}})
    with pytest.raises(
        ConfigError, match=r"model\.search\.space: logistic_regression has no parameter"
    ):
        prepare_model(config, ["f00", "f01"])
    config = TrainingConfig(
        model={"search": {"kind": "random", "space": {"C": [1.0, -2.0], "penalty": ["l3"]}}},
        features={"derived": []},
    )
    with pytest.raises(ConfigError) as caught:
        prepare_model(config, ["f00", "f01"])
    assert "The 'C' parameter of LogisticRegression" in str(caught.value)
    assert "Got 'l3'" in str(caught.value)
