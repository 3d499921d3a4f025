"""Stage 5 — train: the configured estimator, tuned by a cross-validated grid or random search.

Why ``GridSearchCV`` over an explicit candidate list, with our own selection rule: the sharded
search (the trials spread over the pods of a Kubernetes Indexed Job, then a ``finalize`` step)
must pick exactly what this single-process search picks. So a search is a ``SearchPlan`` that both
materialise identically, built only from sklearn parts:

* candidates: ``ParameterGrid`` (grid) or ``ParameterSampler(random_state=seed)`` (random — the
  list ``RandomizedSearchCV`` would draw, held explicitly so that a shard can address candidate i);
* folds: the seeded ``StratifiedKFold``/``KFold`` through ``check_cv``, as index arrays;
* scorers: ``MetricSpec.scorers()`` (``make_scorer``, every metric of the task at once);
* selection: ``select_best`` — the highest mean fold score of the primary metric, ties to the lowest
  candidate index; a candidate with a failed fold (NaN, ``error_score=nan``) never wins.

Here, ``GridSearchCV(param_grid=<one single-point grid per candidate>, cv=plan.folds,
scoring=plan.scoring, refit=False, error_score=nan)`` runs every (candidate, fold) trial in
parallel, and ``select_best`` reads its ``cv_results_``. A shard runs ``run_trial``
(``cross_validate`` of one candidate on one fold: the same fit and the same scorers), and a finalize
step applies ``select_best`` to the gathered fold scores. ``RandomizedSearchCV`` adds nothing over
the explicit list, and its own ``refit`` would refit forests single-threaded (the search is the
parallel level): the winner is refit here with the estimator's own ``n_jobs``. Everything is
deterministic for ``seed``: candidates, folds and the estimator's ``random_state`` derive from it.
"""

from __future__ import annotations

import warnings
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
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    ParameterGrid,
    ParameterSampler,
    StratifiedKFold,
    check_cv,
    cross_validate,
)
from sklearn.pipeline import Pipeline

from training.config import ModelConfig, Task
from training.metrics import MetricSpec

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
#: Estimators whose own ``n_jobs`` parallelises a fit (``LogisticRegression``'s is deprecated).
THREADED = (RandomForestClassifier, RandomForestRegressor)

TrialCallback = Callable[[int, int], None]


class SearchError(ValueError):
    """No candidate of the search could be fitted and scored."""


@dataclass(frozen=True)
class SearchPlan:
    """Everything that decides a search's outcome, addressable trial by trial."""

    candidates: list[dict[str, Any]]  # ``model__<param>`` dicts
    folds: list[tuple[np.ndarray, np.ndarray]]  # (training rows, validation rows)
    scoring: dict[str, Any]  # metric name → sklearn scorer
    primary: str
    spec: MetricSpec

    def trials(self) -> list[tuple[int, int]]:
        """Every (candidate index, fold index), in the order the search reports them."""
        return [(c, f) for c in range(len(self.candidates)) for f in range(len(self.folds))]


@dataclass
class SearchResult:
    model: Pipeline
    best_params: dict[str, Any]
    best_score: float | None  # mean CV score of the primary metric (its own sign)
    metric: str | None  # the primary metric the search ranked by (None: no search)
    trials: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


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
    if issubclass(estimator_class, THREADED):
        params.setdefault("n_jobs", config.n_jobs)
    estimator.set_params(**params)
    problem = parameter_problem(estimator)
    if problem:
        raise ValueError(f"model.params: {problem}")
    return estimator


def parameter_problem(estimator: Any) -> str | None:
    """sklearn's own check of parameter values (types, ranges, choices), which otherwise runs
    only inside ``fit`` — too late: the data would be landed and the search started by then.
    ``_validate_params`` is the method every sklearn estimator's ``fit`` calls first."""
    try:
        estimator._validate_params()
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None


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
    """Unknown parameter names, then every candidate's values, checked before anything runs."""
    accepted = pipeline.get_params()
    unknown = sorted(k for k in config.search.space if f"model__{k}" not in accepted)
    if unknown:
        raise ValueError(
            f"model.search.space: {config.estimator} has no parameter(s) {', '.join(unknown)}"
        )
    # sklearn constrains each parameter on its own, so checking every value of every parameter
    # (not every combination) finds each invalid value once.
    problems: list[str] = []
    for key, values in config.search.space.items():
        for value in values:
            estimator = clone(pipeline.named_steps["model"]).set_params(**{key: value})
            problem = parameter_problem(estimator)
            if problem and problem not in problems:
                problems.append(problem)
    if problems:
        raise ValueError(f"model.search.space: {'; '.join(problems)}")


def plan_search(
    config: ModelConfig, spec: MetricSpec, primary: str, seed: int, x: pd.DataFrame, y: pd.Series
) -> SearchPlan | None:
    """The search over the training split (``None`` when there is nothing to search)."""
    options = candidates(config, seed)
    if len(options) == 1 and not options[0]:
        return None
    classifier = config.task == "classification"
    splitter = (StratifiedKFold if classifier else KFold)(
        n_splits=config.search.cv, shuffle=True, random_state=seed
    )
    with warnings.catch_warnings():
        # A class with fewer rows than folds: fold_problems says so clearly below.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        folds = [
            (np.asarray(train), np.asarray(test))
            for train, test in check_cv(splitter, y, classifier=classifier).split(x, y)
        ]
    return SearchPlan(options, folds, spec.scorers(), primary, spec)


def fold_problems(plan: SearchPlan, y: pd.Series) -> list[str]:
    """Every CV fold must hold every class on both sides (else its scores are NaN or crash)."""
    if plan.spec.task != "classification":
        return []
    labels = np.asarray(y)
    counts = pd.Series(labels).value_counts()
    problems: list[str] = []
    for number, (train, test) in enumerate(plan.folds, start=1):
        for label in plan.spec.classes:
            for part, rows in (("training", train), ("validation", test)):
                if not np.any(labels[rows] == label):
                    problems.append(
                        f"CV fold {number} of {len(plan.folds)} has no row of class {label!r} in "
                        f"its {part} part ({int(counts.get(label, 0))} rows of it in the training "
                        "split): lower model.search.cv or add rows"
                    )
    return problems


def _search_estimator(pipeline: Pipeline) -> Pipeline:
    """The pipeline as searched: a forest fits single-threaded, the search being the parallel
    level (which also makes its CV scores reproducible: threaded tree averaging is summed in a
    varying order)."""
    searched = clone(pipeline)
    if isinstance(searched.named_steps["model"], THREADED):
        searched.set_params(model__n_jobs=1)
    return searched


def fold_scores(cv_results: dict[str, Any], metric: str, folds: int) -> np.ndarray:
    """(candidates x folds) scores of ``metric`` from ``GridSearchCV.cv_results_``."""
    return np.column_stack(
        [np.asarray(cv_results[f"split{k}_test_{metric}"], dtype=float) for k in range(folds)]
    )


def select_best(scores: np.ndarray) -> int:
    """The selection rule shared by the single-process and the sharded search.

    ``scores``: (candidates x folds) scorer values of the primary metric (higher is better, as
    sklearn scorers are). The highest mean wins, ties go to the lowest candidate index; a candidate
    with a failed fold (NaN) never wins.
    """
    means = scores.mean(axis=1)
    valid = np.flatnonzero(np.isfinite(means))
    if valid.size == 0:
        raise SearchError("no search candidate could be fitted and scored on every fold")
    return int(min(valid, key=lambda i: (-means[i], i)))


def run_trial(
    plan: SearchPlan,
    pipeline: Pipeline,
    x: pd.DataFrame,
    y: pd.Series,
    candidate: int,
    fold: int,
) -> tuple[dict[str, float], str | None]:
    """One (candidate, fold) trial on its own, as a shard runs it: the scorer value of every metric
    (NaN and the error when the fit failed, like ``GridSearchCV(error_score=nan)``)."""
    estimator = _search_estimator(pipeline).set_params(**plan.candidates[candidate])
    try:
        result = cross_validate(
            estimator, x, y, cv=[plan.folds[fold]], scoring=plan.scoring, error_score="raise"
        )
    except Exception as exc:  # GridSearchCV(error_score=nan) records any fit failure the same way
        return {name: float("nan") for name in plan.scoring}, f"{type(exc).__name__}: {exc}"
    return {name: float(result[f"test_{name}"][0]) for name in plan.scoring}, None


def search(
    pipeline: Pipeline,
    x: pd.DataFrame,
    y: pd.Series,
    *,
    plan: SearchPlan | None,
    n_jobs: int,
    on_trial: TrialCallback | None = None,
) -> SearchResult:
    """Cross-validated search (``plan``), then refit of the best on all of x; without a plan, one
    fit of the configured estimator."""
    if plan is None:
        if on_trial:
            on_trial(0, 0)
        return SearchResult(pipeline.fit(x, y), {}, None, None)

    total = len(plan.trials())
    if on_trial:
        on_trial(0, total)
    grid = [{key: [value] for key, value in candidate.items()} for candidate in plan.candidates]
    runner = GridSearchCV(
        _search_estimator(pipeline),
        grid,
        scoring=plan.scoring,
        cv=plan.folds,
        refit=False,
        error_score=np.nan,
        n_jobs=n_jobs,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FitFailedWarning)
        warnings.filterwarnings("ignore", message="One or more of the test scores are non-finite")
        try:
            runner.fit(x, y)
        except ValueError as exc:
            if "fits failed" not in str(exc):
                raise
            raise SearchError(f"every search candidate failed to fit: {exc}") from None
    results = runner.cv_results_
    if [dict(params) for params in results["params"]] != plan.candidates:
        raise RuntimeError("GridSearchCV reordered the candidates")  # the plan's contract
    if on_trial:
        on_trial(total, total)
    scores = {metric: fold_scores(results, metric, len(plan.folds)) for metric in plan.scoring}
    failures = [str(w.message).strip() for w in caught if issubclass(w.category, FitFailedWarning)]
    return conclude(plan, pipeline, x, y, scores, failures)


def conclude(
    plan: SearchPlan,
    pipeline: Pipeline,
    x: pd.DataFrame,
    y: pd.Series,
    scores: dict[str, np.ndarray],
    failures: list[str],
) -> SearchResult:
    """The search's outcome from every trial's scorer values (``scores``: metric → candidates x
    folds), however they were gathered: ``select_best`` on the primary metric, then the refit of
    the winner on all of x with the estimator's own ``n_jobs``. The single-process search and the
    sharded search's ``finalize`` both end here."""
    best = select_best(scores[plan.primary])
    model = clone(pipeline).set_params(**plan.candidates[best]).fit(x, y)
    trials = [_trial(plan, scores, i) for i in range(len(plan.candidates))]
    return SearchResult(
        model,
        trials[best]["params"],
        trials[best]["mean_score"],
        plan.primary,
        trials,
        failures,
    )


def _trial(plan: SearchPlan, scores: dict[str, np.ndarray], index: int) -> dict[str, Any]:
    natural = {
        metric: [plan.spec.natural(metric, float(value)) for value in scores[metric][index]]
        for metric in plan.scoring
    }
    return {
        "params": {k.removeprefix("model__"): v for k, v in plan.candidates[index].items()},
        "mean_score": float(np.mean(natural[plan.primary])),
        "std_score": float(np.std(natural[plan.primary])),
        "metric": plan.primary,
        "fold_scores": natural,
    }
