"""The gate's evidence from the registry: the champion re-scored on rows that neither it nor the
candidate trained on, and the drift reference.

Which rows: every version records how its data was split (``split_rule``, ``split_test_size``;
``training/split.py``). A row is in a model's holdout iff its content hash position ``u`` is below
that model's test size, so the rows neither model trained on are the candidate's holdout rows with
``u < min(candidate test size, champion test size)`` — all of the candidate's holdout when both use
the same test size. Both models are scored on exactly those rows, and the gate's reason says how
many there were and why.

A champion that cannot be compared — another task, other input columns (or order), other classes,
an unknown split, or it cannot even be loaded — is not "no champion": the gate rejects the
candidate and says why (``promote --force`` overrides).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from training.config import TrainingConfig
from training.errors import RegistryError
from training.gate import ChampionScore, DriftReference, Incomparable
from training.metrics import MetricSpec
from training.registry import ACCEPTED, STATUS_TAG, model_input_columns
from training.split import SPLIT_RULE, SplitData

log = logging.getLogger(__name__)

SPLIT_RULE_TAG = "split_rule"
SPLIT_TEST_SIZE_TAG = "split_test_size"
INPUT_SCHEMA_TAG = "input_schema"
METRIC_SCOPE_TAG = "metric_scope"


def input_schema(columns: list[str]) -> str:
    """SHA-256 of the ordered input column names (served clients rely on the order too)."""
    return hashlib.sha256(json.dumps([str(c) for c in columns]).encode()).hexdigest()


def comparability_tags(spec: MetricSpec, data: SplitData) -> dict[str, str]:
    """What a later gate needs to compare with this version."""
    tags = {
        SPLIT_RULE_TAG: SPLIT_RULE,
        SPLIT_TEST_SIZE_TAG: repr(float(data.test_size)),
        INPUT_SCHEMA_TAG: input_schema(list(data.x_test.columns)),
        METRIC_SCOPE_TAG: spec.describe(),
    }
    if spec.positive_label is not None:
        tags["positive_label"] = json.dumps(spec.positive_label)
    return tags


def champion_comparison(
    champion: ModelVersion,
    *,
    load: Callable[[str], Any],
    candidate: Any,
    data: SplitData,
    spec: MetricSpec,
    config: TrainingConfig,
) -> ChampionScore | Incomparable | None:
    """Score the champion and the candidate on the rows neither trained on.

    ``None`` when the comparison is switched off (``gate.compare_with_champion: false``) and the
    champion is compatible; an ``Incomparable`` whenever the two cannot be compared.
    """
    version = str(champion.version)
    tags = champion.tags or {}
    task = tags.get("task")
    if task != config.model.task:
        return Incomparable(
            version, f"it is a {task or 'untagged'} model, the candidate a {config.model.task} one"
        )
    try:
        model = load(version)
    except Exception as exc:  # any load failure is a reason to refuse, logged and reported
        log.warning("cannot load champion v%s to compare with it", version, exc_info=True)
        return Incomparable(version, f"it cannot be loaded ({type(exc).__name__}: {exc})")
    columns = model_input_columns(model)
    expected = [str(c) for c in data.x_test.columns]
    if columns is None:
        return Incomparable(version, "it records no input column names")
    if columns != expected:
        missing = [c for c in expected if c not in columns]
        extra = [c for c in columns if c not in expected]
        detail = (
            f"missing {missing}, extra {extra}"
            if missing or extra
            else "the same, in another order"
        )
        return Incomparable(version, f"it takes other input columns ({detail})")
    if spec.task == "classification":
        classes = tuple(getattr(model, "classes_", ()))
        if [str(c) for c in classes] != [str(c) for c in spec.classes]:
            return Incomparable(
                version,
                f"it predicts the classes {list(classes)}, the candidate {list(spec.classes)}",
            )
    if not config.gate.compare_with_champion:
        return None
    if tags.get(SPLIT_RULE_TAG) != SPLIT_RULE:
        return Incomparable(
            version,
            f"it records no {SPLIT_RULE} split (registered by an older pipeline), so the rows it "
            "trained on are unknown",
        )
    try:
        champion_test_size = float(tags[SPLIT_TEST_SIZE_TAG])
    except (KeyError, ValueError):
        return Incomparable(version, f"its {SPLIT_TEST_SIZE_TAG} tag is missing or unreadable")
    return _score_both(version, model, candidate, data, spec, config, champion_test_size)


def _score_both(
    version: str,
    champion: Any,
    candidate: Any,
    data: SplitData,
    spec: MetricSpec,
    config: TrainingConfig,
    champion_test_size: float,
) -> ChampionScore | Incomparable:
    bound = min(champion_test_size, data.test_size)
    rows = data.test_positions < bound
    x, y = data.x_test.loc[rows], data.y_test.loc[rows]
    count, total = int(rows.sum()), len(data.y_test)
    if count == total:
        where = f"the {count} holdout rows neither model trained on"
    else:
        where = (
            f"the {count} of {total} holdout rows neither model trained on (row-hash position "
            f"< {bound:g}: the champion trained with split.test_size={champion_test_size:g})"
        )
    if spec.task == "classification":
        absent = [label for label in spec.classes if not (pd.Series(y) == label).any()]
        if absent:
            return Incomparable(version, f"{where} hold no row of class(es) {absent}")
    elif count < 2:
        return Incomparable(version, f"only {where}")
    metric = config.primary_metric
    try:
        champion_value = spec.compute(champion, x, y).metrics[metric]
        candidate_value = spec.compute(candidate, x, y).metrics[metric]
    except Exception as exc:  # a champion that fails on valid input cannot be compared with
        log.warning("cannot score champion v%s", version, exc_info=True)
        return Incomparable(version, f"it fails to score ({type(exc).__name__}: {exc})")
    return ChampionScore(version, champion_value, candidate_value, count, where)


def drift_reference(
    client: MlflowClient,
    config: TrainingConfig,
    spec: MetricSpec,
    data: SplitData,
) -> DriftReference | None:
    """``gate.baseline``, else the best recorded primary metric of the accepted versions that
    measured it the same way (task, input schema, metric scope) and were not rolled back."""
    metric = config.primary_metric
    if config.gate.baseline is not None:
        return DriftReference(config.gate.baseline, "gate.baseline")
    if not config.gate.compare_with_champion:
        return None
    name = config.registry.model_name.replace("'", "''")
    try:
        versions = client.search_model_versions(
            f"name = '{name}' and tags.{STATUS_TAG} = '{ACCEPTED}'"
        )
    except MlflowException as exc:
        raise RegistryError(f"cannot list the accepted versions of {name}: {exc.message}") from None
    wanted = {
        "task": config.model.task,
        INPUT_SCHEMA_TAG: input_schema(list(data.x_test.columns)),
        METRIC_SCOPE_TAG: spec.describe(),
    }
    scored: list[tuple[float, int]] = []
    for version in versions:
        tags = version.tags or {}
        if any(tags.get(k) != v for k, v in wanted.items()) or tags.get("rolled_back") == "true":
            continue
        try:
            value = float(tags[f"metric.{metric}"])
        except (KeyError, ValueError):
            continue
        if math.isfinite(value):
            scored.append((value, int(version.version)))
    if not scored:
        return None
    higher = config.higher_is_better(metric)
    value, number = min(scored, key=lambda item: (-item[0] if higher else item[0], item[1]))
    return DriftReference(value, f"the best accepted version v{number} (its recorded holdout)")
