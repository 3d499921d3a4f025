"""Stage 7 — the quality gate: absolute thresholds from config, and no worse than the champion.

The champion's score is measured on the candidate's holdout when the champion accepts the same
input columns (a like-for-like comparison); otherwise its recorded holdout metric is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from training.config import TrainingConfig


@dataclass(frozen=True)
class ChampionScore:
    version: str
    value: float
    measured_on: str  # "candidate holdout" or "its own holdout (recorded)"


@dataclass(frozen=True)
class GateDecision:
    accepted: bool
    reasons: list[str] = field(default_factory=list)
    champion: ChampionScore | None = None

    @property
    def summary(self) -> str:
        if self.accepted:
            return "accepted" + (f": {'; '.join(self.reasons)}" if self.reasons else "")
        return "rejected: " + "; ".join(self.reasons)


def decide(
    metrics: dict[str, float], config: TrainingConfig, champion: ChampionScore | None
) -> GateDecision:
    failures: list[str] = []
    for name, minimum in config.gate.min.items():
        if metrics[name] < minimum:
            failures.append(f"{name} {metrics[name]:.4f} < required minimum {minimum:.4f}")
    for name, maximum in config.gate.max.items():
        if metrics[name] > maximum:
            failures.append(f"{name} {metrics[name]:.4f} > allowed maximum {maximum:.4f}")

    notes: list[str] = []
    metric = config.primary_metric
    if champion is not None and config.gate.compare_with_champion:
        candidate = metrics[metric]
        tolerance = config.gate.tolerance
        higher = config.higher_is_better(metric)
        worse_by = champion.value - candidate if higher else candidate - champion.value
        comparison = (
            f"{metric} {candidate:.4f} vs champion v{champion.version} {champion.value:.4f} "
            f"(on {champion.measured_on}, tolerance {tolerance:.4f})"
        )
        if worse_by > tolerance:
            failures.append(f"worse than the champion: {comparison}")
        else:
            notes.append(comparison)
    elif champion is None:
        notes.append("no current champion")
    return GateDecision(accepted=not failures, reasons=failures or notes, champion=champion)
