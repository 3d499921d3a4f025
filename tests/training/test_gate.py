"""``training/gate.py``: thresholds, finiteness, the champion comparison and the drift bound."""

from __future__ import annotations

import math

from training.config import TrainingConfig
from training.gate import ChampionScore, DriftReference, Incomparable, decide

GOOD = {"roc_auc": 0.95, "f1": 0.9, "accuracy": 0.9, "precision": 0.9, "recall": 0.9}


def _champion(value: float, candidate: float = 0.95) -> ChampionScore:
    return ChampionScore(
        "4", value, candidate, 114, "the 114 holdout rows neither model trained on"
    )


def test_gate_thresholds_and_champion_tolerance() -> None:
    config = TrainingConfig(gate={"min": {"roc_auc": 0.9}, "tolerance": 0.01})
    assert decide(GOOD, config, None).accepted
    assert decide(GOOD, config, None).reasons == ["no current champion"]
    low = decide({**GOOD, "roc_auc": 0.85}, config, None)
    assert not low.accepted
    assert low.reasons == ["roc_auc 0.8500 < required minimum 0.9000"]
    worse = decide(GOOD, config, _champion(0.97))
    assert not worse.accepted
    assert worse.reasons == [
        "worse than the champion: roc_auc 0.9500 vs champion v4 0.9700 on the 114 holdout rows "
        "neither model trained on (tolerance 0.0100)"
    ]
    assert decide(GOOD, config, _champion(0.97, candidate=0.961)).accepted  # within tolerance


def test_the_comparison_uses_both_models_scores_on_the_same_rows() -> None:
    """The candidate's full-holdout metric is for the thresholds; the comparison uses its score
    on the rows the champion was scored on."""
    config = TrainingConfig(gate={"tolerance": 0.01})
    assert not decide({**GOOD, "roc_auc": 0.99}, config, _champion(0.97, candidate=0.90)).accepted


def test_non_finite_metrics_are_rejected() -> None:
    config = TrainingConfig(gate={"min": {"roc_auc": 0.5}})
    decision = decide({**GOOD, "roc_auc": math.nan, "f1": 0.0, "recall": 0.0}, config, None)
    assert not decision.accepted
    assert decision.reasons[0].startswith("roc_auc is nan on the holdout, not a number")
    champion = decide(GOOD, config, _champion(math.nan))
    assert not champion.accepted
    assert "the comparison with the champion is not finite" in champion.summary


def test_a_champion_that_cannot_be_compared_rejects_the_candidate() -> None:
    config = TrainingConfig(registry={"model_name": "m"})
    decision = decide(GOOD, config, Incomparable("3", "it is a regression model"))
    assert not decision.accepted
    assert decision.reasons == [
        "cannot compare with champion v3: it is a regression model "
        "(`python -m training promote m VERSION --force` replaces it anyway)"
    ]


def test_drift_is_bounded_by_the_reference() -> None:
    config = TrainingConfig(gate={"tolerance": 0.02, "drift_tolerance": 0.03})
    reference = DriftReference(0.99, "the best accepted version v1 (its recorded holdout)")
    # within tolerance of the champion, but 0.04 below the best accepted version
    drifted = decide(GOOD, config, _champion(0.96), reference)
    assert not drifted.accepted
    assert drifted.reasons == [
        "drifted too far: roc_auc 0.9500 vs the best accepted version v1 (its recorded holdout) "
        "0.9900 (drift tolerance 0.0300)"
    ]
    assert decide({**GOOD, "roc_auc": 0.965}, config, _champion(0.96, 0.965), reference).accepted
    # the drift tolerance defaults to the tolerance
    assert TrainingConfig(gate={"tolerance": 0.02}).gate.effective_drift_tolerance == 0.02


def test_gate_for_regression_lower_is_better() -> None:
    config = TrainingConfig(
        data={"source": "sklearn:diabetes"},
        model={"task": "regression", "estimator": "ridge"},
        gate={"max": {"rmse": 60.0}, "tolerance": 1.0},
    )
    assert config.primary_metric == "rmse"
    champion = ChampionScore("1", 50.0, 50.9, 88, "the 88 holdout rows neither model trained on")
    assert decide({"rmse": 50.9, "mae": 40.0, "r2": 0.4}, config, champion).accepted
    worse = ChampionScore("1", 50.0, 61.0, 88, "the 88 holdout rows neither model trained on")
    rejected = decide({"rmse": 61.0, "mae": 40.0, "r2": 0.4}, config, worse)
    assert rejected.reasons[0] == "rmse 61.0000 > allowed maximum 60.0000"
    assert "worse than the champion" in rejected.reasons[1]
    baseline = DriftReference(48.0, "gate.baseline")
    assert not decide({"rmse": 49.5, "mae": 40.0, "r2": 0.4}, config, None, baseline).accepted


def test_a_metric_exactly_on_a_threshold_or_tolerance_passes() -> None:
    """The bounds are inclusive: the minimum, the maximum, the champion tolerance and the drift
    tolerance are each still acceptable (values exact in binary floating point)."""
    config = TrainingConfig(
        gate={
            "min": {"roc_auc": 0.625},
            "max": {"f1": 0.75},
            "tolerance": 0.25,
            "drift_tolerance": 0.125,
        }
    )
    metrics = {**GOOD, "roc_auc": 0.625, "f1": 0.75}
    champion = _champion(0.875, candidate=0.625)
    reference = DriftReference(0.75, "the best accepted version v2")
    decision = decide(metrics, config, champion, reference)
    assert decision.accepted, decision.reasons
    assert decision.champion is champion
    assert decision.reasons == [
        "roc_auc 0.6250 vs champion v4 0.8750 on the 114 holdout rows neither model trained on "
        "(tolerance 0.2500)",
        "roc_auc 0.6250 vs the best accepted version v2 0.7500 (drift tolerance 0.1250)",
    ]
    beyond = decide(metrics, config, champion, DriftReference(0.875, "gate.baseline"))
    assert beyond.reasons == [
        "drifted too far: roc_auc 0.6250 vs gate.baseline 0.8750 (drift tolerance 0.1250)"
    ]


def test_a_non_finite_metric_is_explained() -> None:
    decision = decide({**GOOD, "roc_auc": math.nan}, TrainingConfig(), None)
    assert decision.reasons == [
        "roc_auc is nan on the holdout, not a number the gate can judge "
        "(a class missing from the holdout, or a degenerate model)"
    ]
    assert decision.champion is None
