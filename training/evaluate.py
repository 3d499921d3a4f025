"""Stage 6 — evaluate on the holdout: metrics, plus a confusion matrix or residual plot figure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: figures are only saved as MLflow artifacts

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    accuracy_score,
    f1_score,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from training.config import Task


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, float]
    predicted: np.ndarray


def evaluate(model: Any, x: pd.DataFrame, y: pd.Series, task: Task) -> Evaluation:
    """Holdout metrics: accuracy/precision/recall/F1/ROC AUC, or RMSE/MAE/R²."""
    if task == "regression":
        predicted = model.predict(x)
        metrics = {
            "rmse": float(root_mean_squared_error(y, predicted)),
            "mae": float(mean_absolute_error(y, predicted)),
            "r2": float(r2_score(y, predicted)),
        }
        return Evaluation(metrics, predicted)
    # One predict_proba serves both: predict() of sklearn classifiers is the argmax of it.
    probabilities = model.predict_proba(x)
    predicted = model.classes_[np.argmax(probabilities, axis=1)]
    binary = len(model.classes_) == 2
    average = "binary" if binary else "macro"
    if binary:
        auc = roc_auc_score(y, probabilities[:, 1])
    else:
        auc = roc_auc_score(y, probabilities, multi_class="ovr", labels=model.classes_)
    metrics = {
        "accuracy": float(accuracy_score(y, predicted)),
        "precision": float(precision_score(y, predicted, average=average, zero_division=0)),
        "recall": float(recall_score(y, predicted, average=average, zero_division=0)),
        "f1": float(f1_score(y, predicted, average=average, zero_division=0)),
        "roc_auc": float(auc),
    }
    return Evaluation(metrics, predicted)


def evaluation_figure(y: pd.Series, predicted: np.ndarray, task: Task) -> Figure:
    """A confusion matrix (classification) or residuals-vs-predicted plot (regression)."""
    figure = Figure(figsize=(5, 4), dpi=100)
    axes = figure.subplots()
    if task == "classification":
        ConfusionMatrixDisplay.from_predictions(y, predicted, ax=axes, colorbar=False)
        axes.set_title("Holdout confusion matrix")
    else:
        residuals = np.asarray(y) - predicted
        axes.scatter(predicted, residuals, s=6, alpha=0.5)
        axes.axhline(0.0, color="black", linewidth=1)
        axes.set_xlabel("predicted")
        axes.set_ylabel("residual (actual - predicted)")
        axes.set_title("Holdout residuals")
    figure.tight_layout()
    return figure
