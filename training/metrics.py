"""What each metric measures for this target — defined once, used by the search and the holdout.

A ``MetricSpec`` holds the task, the target's classes and (binary) the positive label. From one
table of ``(score function, response method, keyword arguments)`` it builds both the sklearn
scorers the cross-validated search ranks candidates with (``make_scorer``) and the holdout metrics
of the evaluation and the gate, so a CV score and a holdout metric of the same name always mean
the same thing:

* binary: ``precision``/``recall``/``f1`` of the positive label (``data.positive_label``; default
  ``1`` for 0/1 and ``True`` for boolean targets, required for any other labels), ``accuracy``,
  ``roc_auc`` (of ``predict_proba``; symmetric in the two classes);
* multiclass (3+ classes): macro averages of precision/recall/F1 over the classes, ``accuracy``,
  ``roc_auc`` one-vs-rest macro (sklearn's ``roc_auc_ovr``);
* regression: ``rmse``, ``mae``, ``r2``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    make_scorer,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from training.config import Label, Task

#: Binary targets whose positive class goes without saying (sklearn's own default ``pos_label``).
CONVENTIONAL_BINARY = ({0, 1}, {-1, 1})


@dataclass(frozen=True)
class Definition:
    function: Callable[..., float]
    response: str  # "predict" or "predict_proba"
    kwargs: dict[str, Any]
    higher_is_better: bool = True


@dataclass(frozen=True)
class MetricSpec:
    task: Task
    classes: tuple[Any, ...] = ()
    positive_label: Any = None

    @property
    def multiclass(self) -> bool:
        return self.task == "classification" and len(self.classes) > 2

    def describe(self) -> str:
        """One line saying what precision/recall/F1 and ROC AUC measure (shown and recorded)."""
        if self.task == "regression":
            return "regression: rmse, mae, r2 of the predictions"
        if self.multiclass:
            return (
                f"multiclass ({len(self.classes)} classes): precision/recall/F1 are macro averages "
                "over the classes, ROC AUC is one-vs-rest macro"
            )
        return f"binary: precision/recall/F1 measure class {self.positive_label!r}"

    def definitions(self) -> dict[str, Definition]:
        if self.task == "regression":
            return {
                "rmse": Definition(root_mean_squared_error, "predict", {}, higher_is_better=False),
                "mae": Definition(mean_absolute_error, "predict", {}, higher_is_better=False),
                "r2": Definition(r2_score, "predict", {}),
            }
        if self.multiclass:
            averaged: dict[str, Any] = {"average": "macro", "zero_division": 0}
            auc: dict[str, Any] = {
                "multi_class": "ovr",
                "average": "macro",
                "labels": list(self.classes),
            }
        else:
            averaged = {"pos_label": self.positive_label, "zero_division": 0}
            auc = {}
        return {
            "accuracy": Definition(accuracy_score, "predict", {}),
            "precision": Definition(precision_score, "predict", averaged),
            "recall": Definition(recall_score, "predict", averaged),
            "f1": Definition(f1_score, "predict", averaged),
            "roc_auc": Definition(roc_auc_score, "predict_proba", auc),
        }

    def scorers(self) -> dict[str, Any]:
        """sklearn scorers by metric name (lower-is-better metrics are negated, as sklearn does)."""
        return {
            name: make_scorer(
                d.function,
                response_method=d.response,
                greater_is_better=d.higher_is_better,
                **d.kwargs,
            )
            for name, d in self.definitions().items()
        }

    def natural(self, metric: str, scorer_value: float) -> float:
        """A scorer's value with the metric's own sign (an RMSE scorer reports ``-rmse``)."""
        return scorer_value if self.definitions()[metric].higher_is_better else -scorer_value

    def compute(self, model: Any, x: pd.DataFrame, y: Sequence[Any] | pd.Series) -> Computed:
        """Every metric of ``model`` on ``(x, y)`` with one ``predict``/``predict_proba`` pass."""
        if self.task == "regression":
            predicted = np.asarray(model.predict(x))
            probabilities = None
        else:
            # predict() of sklearn classifiers is the argmax of predict_proba: one pass serves both.
            probabilities = np.asarray(model.predict_proba(x))
            predicted = np.asarray(model.classes_)[np.argmax(probabilities, axis=1)]
        metrics: dict[str, float] = {}
        for name, d in self.definitions().items():
            if d.response == "predict":
                response: Any = predicted
            elif self.multiclass:
                response = probabilities
            else:
                assert probabilities is not None
                response = probabilities[:, 1]
            metrics[name] = float(d.function(y, response, **d.kwargs))
        return Computed(metrics, predicted)


@dataclass(frozen=True)
class Computed:
    metrics: dict[str, float]
    predicted: np.ndarray


def resolve_positive_label(labels: Sequence[Any], configured: Label | None) -> Any:
    """The target's own value of the positive class, or ``ValueError`` saying what to configure."""
    if len(labels) != 2:
        if configured is not None:
            raise ValueError(
                f"data.positive_label is set ({configured!r}) but the target has {len(labels)} "
                "classes: multiclass precision/recall/F1 are macro averages over all classes"
            )
        return None
    shown = ", ".join(repr(_plain(label)) for label in labels)
    if configured is None:
        if set(labels) in CONVENTIONAL_BINARY or all(
            isinstance(v, bool | np.bool_) for v in labels
        ):
            return labels[1]
        raise ValueError(
            f"data.positive_label: the binary target has labels {shown}; name the class that "
            "precision/recall/F1 measure"
        )
    for label in labels:
        if type(_plain(label)) is type(configured) and _plain(label) == configured:
            return label
    for label in labels:  # "1" from an environment variable still names the integer label 1
        if str(_plain(label)) == str(configured):
            return label
    raise ValueError(
        f"data.positive_label {configured!r} is not a label of the target (labels: {shown})"
    )


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for messages and comparisons)."""
    return value.item() if isinstance(value, np.generic) else value


def metric_spec(task: Task, y: pd.Series, positive_label: Label | None) -> MetricSpec:
    """The spec for target ``y`` (classes sorted as sklearn's ``classes_``)."""
    if task == "regression":
        return MetricSpec("regression")
    classes = tuple(_plain(v) for v in np.unique(np.asarray(y)))
    return MetricSpec(
        "classification", classes, _plain(resolve_positive_label(classes, positive_label))
    )
