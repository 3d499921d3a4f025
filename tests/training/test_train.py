"""``training/train.py``: the cross-validated search — deterministic, multiclass-ready, and one
selection rule shared with per-trial (sharded) evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from training.config import ModelConfig, TrainingConfig
from training.features import build_pipeline
from training.load import synthetic
from training.metrics import metric_spec
from training.split import split
from training.train import (
    SearchError,
    candidates,
    fold_scores,
    make_estimator,
    plan_search,
    run_trial,
    search,
    select_best,
)


def _frame(rows: int = 300) -> pd.DataFrame:
    return synthetic(rows, 6, task="classification", seed=2, target="target")


def _setup(config: TrainingConfig, frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    data = split(frame, config)
    spec = metric_spec(config.model.task, frame["target"], config.data.positive_label)
    plan = plan_search(
        config.model, spec, config.primary_metric, config.seed, data.x_train, data.y_train
    )
    pipeline = build_pipeline(
        list(data.x_train.columns), [], config.features, make_estimator(config.model, config.seed)
    )
    return data, spec, plan, pipeline


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
        },
        features={"derived": []},
    )
    runs = []
    for _ in range(2):
        data, _, plan, pipeline = _setup(config, _frame())
        progress: list[tuple[int, int]] = []

        def record(done: int, total: int, progress: list[tuple[int, int]] = progress) -> None:
            progress.append((done, total))

        result = search(pipeline, data.x_train, data.y_train, plan=plan, n_jobs=2, on_trial=record)
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


def test_trials_run_one_by_one_pick_what_the_single_process_search_picks() -> None:
    """The contract the sharded search relies on: ``run_trial`` of every (candidate, fold) gives
    GridSearchCV's fold scores, and ``select_best`` over them picks the same candidate."""
    config = TrainingConfig(
        model={
            "n_jobs": 1,
            "search": {
                "kind": "random",
                "space": {"C": [0.001, 0.01, 0.1, 1.0, 10.0]},
                "n_iter": 4,
            },
        },
        features={"derived": []},
    )
    data, _, plan, pipeline = _setup(config, _frame())
    assert plan is not None
    single = search(pipeline, data.x_train, data.y_train, plan=plan, n_jobs=1)
    gathered = np.full((len(plan.candidates), len(plan.folds)), np.nan)
    for candidate, fold in plan.trials():
        scores, error = run_trial(plan, pipeline, data.x_train, data.y_train, candidate, fold)
        assert error is None
        gathered[candidate, fold] = scores[plan.primary]
        natural = single.trials[candidate]["fold_scores"]
        for metric, value in scores.items():
            assert plan.spec.natural(metric, value) == natural[metric][fold]
    best = select_best(gathered)
    assert single.trials[best]["params"] == single.best_params
    assert single.best_score == pytest.approx(np.mean(gathered[best]))


def test_the_selection_rule() -> None:
    scores = np.array([[0.8, 0.9], [0.9, 0.8], [0.7, 1.0]])
    assert select_best(scores) == 0  # three-way tie on the mean → the lowest index
    assert select_best(np.array([[np.nan, 1.0], [0.5, 0.6]])) == 1  # a failed fold never wins
    with pytest.raises(SearchError, match="no search candidate could be fitted"):
        select_best(np.array([[np.nan, 1.0], [0.5, np.nan]]))
    results = {"split0_test_f1": [0.1, 0.2], "split1_test_f1": [0.3, 0.4]}
    np.testing.assert_array_equal(fold_scores(results, "f1", 2), [[0.1, 0.3], [0.2, 0.4]])


def test_multiclass_string_labels_with_a_search() -> None:
    """Three string classes: macro F1 and one-vs-rest ROC AUC, in the CV and on the holdout."""
    features, labels = make_classification(
        n_samples=600,
        n_features=6,
        n_informative=4,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=4,
    )
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(6)])
    frame["target"] = np.array(["cat", "dog", "emu"])[labels]
    config = TrainingConfig(
        model={"n_jobs": 1, "search": {"kind": "grid", "space": {"C": [0.1, 1.0]}, "cv": 3}},
        features={"derived": []},
        gate={"primary_metric": "f1"},
    )
    data, spec, plan, pipeline = _setup(config, frame)
    assert spec.multiclass
    assert spec.describe().startswith("multiclass (3 classes)")
    result = search(pipeline, data.x_train, data.y_train, plan=plan, n_jobs=1)
    assert result.best_score is not None
    assert 0.7 < result.best_score <= 1.0
    assert set(result.trials[0]["fold_scores"]) == {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
    }
    metrics = spec.compute(result.model, data.x_test, data.y_test).metrics
    assert set(metrics) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert all(0.7 < value <= 1.0 for value in metrics.values())
    assert list(result.model.classes_) == ["cat", "dog", "emu"]
