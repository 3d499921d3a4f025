"""Stage 7 — the quality gate. The candidate is accepted only if all of these hold:

* every holdout metric is a finite number (a NaN ROC AUC compares false with everything, so it
  would otherwise slip through every threshold);
* the thresholds ``gate.min`` / ``gate.max``;
* the current champion can be compared with (same task, same input columns in the same order,
  same classes, a known split) — else the candidate is rejected, and only ``promote --force``
  replaces a champion it cannot be compared with;
* on the rows neither model trained on (``training/compare.py``), the candidate's primary metric is
  no worse than the champion's by more than ``gate.tolerance``;
* no worse than the drift reference by more than ``gate.drift_tolerance`` (default
  ``gate.tolerance``): ``gate.baseline`` if configured, else the best accepted version's recorded
  holdout metric — so a chain of runs each within tolerance of the last cannot drift further.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from training.config import TrainingConfig


@dataclass(frozen=True)
class ChampionScore:
    """Champion and candidate, scored on the same rows that neither trained on."""

    version: str
    value: float
    candidate_value: float
    rows: int
    measured_on: str


@dataclass(frozen=True)
class Incomparable:
    """A champion the candidate cannot be compared with, and why."""

    version: str
    reason: str


@dataclass(frozen=True)
class DriftReference:
    value: float
    source: str


@dataclass(frozen=True)
class GateDecision:
    accepted: bool
    reasons: list[str] = field(default_factory=list)
    champion: ChampionScore | Incomparable | None = None

    @property
    def summary(self) -> str:
        if self.accepted:
            return "accepted" + (f": {'; '.join(self.reasons)}" if self.reasons else "")
        return "rejected: " + "; ".join(self.reasons)


def _worse_by(config: TrainingConfig, metric: str, candidate: float, reference: float) -> float:
    return reference - candidate if config.higher_is_better(metric) else candidate - reference


def decide(
    metrics: dict[str, float],
    config: TrainingConfig,
    champion: ChampionScore | Incomparable | None,
    reference: DriftReference | None = None,
) -> GateDecision:
    failures: list[str] = []
    notes: list[str] = []
    for name, value in metrics.items():
        if not math.isfinite(value):
            failures.append(
                f"{name} is {value} on the holdout, not a number the gate can judge "
                "(a class missing from the holdout, or a degenerate model)"
            )
    for name, minimum in config.gate.min.items():
        if math.isfinite(metrics[name]) and metrics[name] < minimum:
            failures.append(f"{name} {metrics[name]:.4f} < required minimum {minimum:.4f}")
    for name, maximum in config.gate.max.items():
        if math.isfinite(metrics[name]) and metrics[name] > maximum:
            failures.append(f"{name} {metrics[name]:.4f} > allowed maximum {maximum:.4f}")

    metric = config.primary_metric
    if isinstance(champion, Incomparable):
        failures.append(
            f"cannot compare with champion v{champion.version}: {champion.reason} "
            f"(`python -m training promote {config.registry.model_name} VERSION --force` "
            "replaces it anyway)"
        )
    elif isinstance(champion, ChampionScore):
        tolerance = config.gate.tolerance
        comparison = (
            f"{metric} {champion.candidate_value:.4f} vs champion v{champion.version} "
            f"{champion.value:.4f} on {champion.measured_on} (tolerance {tolerance:.4f})"
        )
        if not (math.isfinite(champion.value) and math.isfinite(champion.candidate_value)):
            failures.append(f"the comparison with the champion is not finite: {comparison}")
        elif _worse_by(config, metric, champion.candidate_value, champion.value) > tolerance:
            failures.append(f"worse than the champion: {comparison}")
        else:
            notes.append(comparison)
    elif config.gate.compare_with_champion:
        notes.append("no current champion")

    if reference is not None and math.isfinite(metrics[metric]):
        tolerance = config.gate.effective_drift_tolerance
        comparison = (
            f"{metric} {metrics[metric]:.4f} vs {reference.source} {reference.value:.4f} "
            f"(drift tolerance {tolerance:.4f})"
        )
        if _worse_by(config, metric, metrics[metric], reference.value) > tolerance:
            failures.append(f"drifted too far: {comparison}")
        else:
            notes.append(comparison)
    return GateDecision(accepted=not failures, reasons=failures or notes, champion=champion)
