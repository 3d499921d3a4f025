"""Stage 6 — evaluate on the holdout: metrics (``training/metrics.py``), plus a confusion matrix or
residual plot figure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: figures are only saved as MLflow artifacts

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay

from training.config import Task
from training.metrics import MetricSpec


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, float]
    predicted: np.ndarray


def evaluate(model: Any, x: pd.DataFrame, y: pd.Series, spec: MetricSpec) -> Evaluation:
    """Holdout metrics as ``spec`` defines them: accuracy/precision/recall/F1/ROC AUC, or
    RMSE/MAE/R²."""
    computed = spec.compute(model, x, y)
    return Evaluation(computed.metrics, computed.predicted)


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
