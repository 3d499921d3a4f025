"""``training/metrics.py``: what precision/recall/F1 and ROC AUC measure for a target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from training.metrics import metric_spec, resolve_positive_label


def test_positive_label_defaults_and_must_be_named_for_other_labels() -> None:
    assert resolve_positive_label((0, 1), None) == 1
    assert resolve_positive_label((False, True), None) is True
    assert resolve_positive_label((0, 1), 0) == 0
    assert resolve_positive_label((0, 1), "0") == 0  # as an environment variable spells it
    assert resolve_positive_label(("no", "yes"), "no") == "no"
    with pytest.raises(ValueError, match="binary target has labels 'no', 'yes'"):
        resolve_positive_label(("no", "yes"), None)
    with pytest.raises(ValueError, match="positive_label 'maybe' is not a label"):
        resolve_positive_label(("no", "yes"), "maybe")
    with pytest.raises(ValueError, match="the target has 3 classes"):
        resolve_positive_label(("a", "b", "c"), "a")
    assert resolve_positive_label(("a", "b", "c"), None) is None


def test_binary_metrics_measure_the_positive_label() -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    y = pd.Series(np.where(x["a"] + 0.3 * rng.normal(size=400) > 0.8, "rare", "common"))
    model = LogisticRegression().fit(x, y)
    rare = metric_spec("classification", y, "rare")
    common = metric_spec("classification", y, "common")
    assert rare.describe() == "binary: precision/recall/F1 measure class 'rare'"
    on_rare, on_common = rare.compute(model, x, y).metrics, common.compute(model, x, y).metrics
    assert on_rare["f1"] < on_common["f1"]  # the rare class is the harder one to find
    assert on_rare["roc_auc"] == pytest.approx(on_common["roc_auc"])
    assert on_rare["accuracy"] == on_common["accuracy"]
    # the search's scorers agree with the holdout metrics
    for name, scorer in rare.scorers().items():
        assert rare.natural(name, scorer(model, x, y)) == pytest.approx(on_rare[name])


def test_regression_scorers_agree_with_the_metrics() -> None:
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(1)
    x = pd.DataFrame({"a": rng.normal(size=200)})
    y = pd.Series(3 * x["a"] + rng.normal(size=200))
    model = Ridge().fit(x, y)
    spec = metric_spec("regression", y, None)
    metrics = spec.compute(model, x, y).metrics
    for name, scorer in spec.scorers().items():
        assert spec.natural(name, scorer(model, x, y)) == pytest.approx(metrics[name])
    assert metrics["rmse"] > 0
