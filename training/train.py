"""Stage 5 — train: the configured estimator, tuned by a grid or random search with K-fold CV.

The search evaluates every (candidate, fold) pair in parallel with joblib (``n_jobs``) and reports
each finished fit, so the CLI can show trial progress. It is deterministic for a seed: the
candidates (``ParameterSampler``), the folds (shuffled ``(Stratified)KFold``) and the estimator's
``random_state`` all derive from it. The best candidate (highest mean CV score on the primary
metric; ties → first) is refit on the whole training split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import get_scorer
from sklearn.model_selection import KFold, ParameterGrid, ParameterSampler, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils.parallel import Parallel, delayed

from training.config import ModelConfig, Task

ESTIMATOR_CLASSES: dict[tuple[Task, str], type[Any]] = {
    ("classification", "logistic_regression"): LogisticRegression,
    ("classification", "random_forest"): RandomForestClassifier,
    ("classification", "gradient_boosting"): GradientBoostingClassifier,
    ("classification", "hist_gradient_boosting"): HistGradientBoostingClassifier,
    ("regression", "ridge"): Ridge,
    ("regression", "random_forest"): RandomForestRegressor,
    ("regression", "gradient_boosting"): GradientBoostingRegressor,
    ("regression", "hist_gradient_boosting"): HistGradientBoostingRegressor,
}

#: sklearn scorer for each primary metric (all "higher is better" for the search).
SCORERS = {
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "f1",
    "roc_auc": "roc_auc",
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "r2": "r2",
}

TrialCallback = Callable[[int, int], None]


@dataclass
class SearchResult:
    model: Pipeline
    best_params: dict[str, Any]
    best_score: float | None
    scorer: str
    trials: list[dict[str, Any]] = field(default_factory=list)


def make_estimator(config: ModelConfig, seed: int) -> Any:
    """The configured estimator with its fixed params, ``random_state`` and (forests) ``n_jobs``."""
    estimator_class = ESTIMATOR_CLASSES[(config.task, config.estimator)]
    estimator = estimator_class()
    accepted = estimator.get_params()
    unknown = sorted(set(config.params) - set(accepted))
    if unknown:
        raise ValueError(
            f"model.params: {config.estimator} has no parameter(s) {', '.join(unknown)}"
        )
    params = dict(config.params)
    if "random_state" in accepted:
        params.setdefault("random_state", seed)
    if estimator_class in (RandomForestClassifier, RandomForestRegressor):
        params.setdefault("n_jobs", config.n_jobs)  # (LogisticRegression's n_jobs is deprecated)
    return estimator.set_params(**params)


def candidates(config: ModelConfig, seed: int) -> list[dict[str, Any]]:
    """The search candidates as ``model__<param>`` dicts (one empty candidate without a search)."""
    search = config.search
    if search.kind == "none" or not search.space:
        return [{}]
    space = {f"model__{key}": list(values) for key, values in search.space.items()}
    if search.kind == "grid":
        return list(ParameterGrid(space))
    grid_size = len(ParameterGrid(space))
    drawn = ParameterSampler(space, n_iter=min(search.n_iter, grid_size), random_state=seed)
    return list(drawn)


def check_search_space(config: ModelConfig, pipeline: Pipeline) -> None:
    accepted = pipeline.get_params()
    unknown = sorted(k for k in config.search.space if f"model__{k}" not in accepted)
    if unknown:
        raise ValueError(
            f"model.search.space: {config.estimator} has no parameter(s) {', '.join(unknown)}"
        )


def _fit_and_score(
    pipeline: Pipeline,
    params: dict[str, Any],
    x: pd.DataFrame,
    y: pd.Series,
    train: np.ndarray,
    test: np.ndarray,
    scorer: Any,
) -> float:
    model = clone(pipeline).set_params(**params)
    if "model__n_jobs" in model.get_params():
        # The search is the parallel level; a single-threaded forest also makes the CV scores
        # bit-for-bit reproducible (threaded tree averaging is summed in a varying order).
        model.set_params(model__n_jobs=1)
    model.fit(x.iloc[train], y.iloc[train])
    return float(scorer(model, x.iloc[test], y.iloc[test]))


def search(
    pipeline: Pipeline,
    x: pd.DataFrame,
    y: pd.Series,
    *,
    config: ModelConfig,
    primary_metric: str,
    seed: int,
    on_trial: TrialCallback | None = None,
) -> SearchResult:
    """Cross-validated search over the configured space, then refit of the best on all of x."""
    scorer_name = SCORERS[primary_metric]
    options = candidates(config, seed)
    if len(options) == 1 and not options[0]:
        if on_trial:
            on_trial(0, 0)
        return SearchResult(pipeline.fit(x, y), {}, None, scorer_name)

    check_search_space(config, pipeline)
    scorer = get_scorer(scorer_name)
    splitter_class = StratifiedKFold if config.task == "classification" else KFold
    folds = list(
        splitter_class(n_splits=config.search.cv, shuffle=True, random_state=seed).split(x, y)
    )
    jobs = [(i, params, train, test) for i, params in enumerate(options) for train, test in folds]
    total = len(jobs)
    if on_trial:
        on_trial(0, total)
    scores: dict[int, list[float]] = {i: [] for i in range(len(options))}
    parallel = Parallel(n_jobs=config.n_jobs, return_as="generator")
    outputs = parallel(
        delayed(_fit_and_score)(pipeline, params, x, y, train, test, scorer)
        for _, params, train, test in jobs
    )
    for done, ((index, *_), score) in enumerate(zip(jobs, outputs, strict=True), start=1):
        scores[index].append(score)
        if on_trial:
            on_trial(done, total)

    trials: list[dict[str, Any]] = [
        {
            "params": {k.removeprefix("model__"): v for k, v in options[i].items()},
            "mean_score": float(np.mean(scores[i])),
            "std_score": float(np.std(scores[i])),
        }
        for i in range(len(options))
    ]
    best = max(range(len(options)), key=lambda i: (trials[i]["mean_score"], -i))
    model = clone(pipeline).set_params(**options[best]).fit(x, y)
    return SearchResult(
        model, trials[best]["params"], trials[best]["mean_score"], scorer_name, trials
    )
