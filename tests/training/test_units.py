"""Stage modules in isolation: land, features, train (search determinism), gate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.config import ModelConfig, TrainingConfig
from training.errors import ConfigError
from training.features import build_pipeline
from training.gate import ChampionScore, decide
from training.land import fingerprint, land
from training.load import synthetic
from training.runner import prepare_model, split
from training.train import candidates, make_estimator, search


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


def test_passthrough_numeric_columns_for_nan_native_estimators() -> None:
    frame = _frame()
    frame.loc[:20, "f01"] = np.nan
    config = TrainingConfig(
        features={"scale": False, "numeric_imputer": "none"},
        model={"estimator": "hist_gradient_boosting", "search": {"kind": "none"}},
    )
    features = [c for c in frame.columns if c != "target"]
    model = prepare_model(config, features).fit(frame[features], frame["target"])
    assert model.named_steps["preprocess"].transformers[0][1] == "passthrough"
    assert model.predict_proba(frame[features].head(30)).shape == (30, 2)
    with pytest.raises(ValueError, match="'none' needs an estimator that handles missing values"):
        TrainingConfig(features={"numeric_imputer": "none"})


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


@pytest.mark.parametrize("kind", ["grid", "random"])
def test_search_is_deterministic_for_a_seed(kind: str) -> None:
    config = TrainingConfig(
        model={
            "estimator": "random_forest",
            "params": {"n_estimators": 10},
            "n_jobs": 2,
            "search": {
                "kind": kind,
                "space": {"max_depth": [2, 4, None], "min_samples_leaf": [1, 5]},
                "n_iter": 3,
                "cv": 2,
            },
        }
    )
    data = split(_frame(), config)
    runs = []
    for _ in range(2):
        pipeline = build_pipeline(
            list(data.x_train.columns),
            [],
            config.features,
            make_estimator(config.model, config.seed),
        )
        progress: list[tuple[int, int]] = []

        def record(done: int, total: int, progress: list[tuple[int, int]] = progress) -> None:
            progress.append((done, total))

        result = search(
            pipeline,
            data.x_train,
            data.y_train,
            config=config.model,
            primary_metric="roc_auc",
            seed=config.seed,
            on_trial=record,
        )
        runs.append((result.best_params, result.trials, result.model.predict_proba(data.x_test)))
        expected = 6 if kind == "grid" else 3
        assert len(result.trials) == expected
        assert progress[-1] == (expected * 2, expected * 2)
    assert runs[0][0] == runs[1][0]
    assert runs[0][1] == runs[1][1]
    # same trees; a forest's parallel averaging may differ in the last bit only
    np.testing.assert_allclose(runs[0][2], runs[1][2], rtol=0, atol=1e-12)


def test_random_candidates_depend_on_the_seed() -> None:
    model = ModelConfig(
        estimator="random_forest",
        search={"kind": "random", "space": {"max_depth": list(range(1, 30))}, "n_iter": 4},
    )
    assert candidates(model, 1) == candidates(model, 1)
    assert candidates(model, 1) != candidates(model, 2)


def test_gate_thresholds_and_champion_tolerance() -> None:
    config = TrainingConfig(gate={"min": {"roc_auc": 0.9}, "tolerance": 0.01})
    good = {"roc_auc": 0.95, "f1": 0.9, "accuracy": 0.9, "precision": 0.9, "recall": 0.9}
    assert decide(good, config, None).accepted
    low = decide({**good, "roc_auc": 0.85}, config, None)
    assert not low.accepted
    assert low.reasons == ["roc_auc 0.8500 < required minimum 0.9000"]
    champion = ChampionScore("4", 0.97, "the candidate's holdout")
    worse = decide(good, config, champion)
    assert not worse.accepted
    assert "worse than the champion" in worse.summary
    assert decide({**good, "roc_auc": 0.961}, config, champion).accepted  # within tolerance


def test_gate_for_regression_lower_is_better() -> None:
    config = TrainingConfig(
        data={"source": "sklearn:diabetes"},
        model={"task": "regression", "estimator": "ridge"},
        gate={"max": {"rmse": 60.0}, "tolerance": 1.0},
    )
    assert config.primary_metric == "rmse"
    champion = ChampionScore("1", 50.0, "the candidate's holdout")
    assert decide({"rmse": 50.9, "mae": 40.0, "r2": 0.4}, config, champion).accepted
    rejected = decide({"rmse": 61.0, "mae": 40.0, "r2": 0.4}, config, champion)
    assert rejected.reasons[0] == "rmse 61.0000 > allowed maximum 60.0000"
    assert "worse than the champion" in rejected.reasons[1]
