"""The sharded search: which trials a shard runs, and what identifies a search.

A search's trials are its (candidate, fold) pairs in ``SearchPlan.trials()`` order. Shard ``I`` of
``N`` runs the trials at positions ``I, I + N, I + 2N, ...`` (round-robin: candidates of unequal
cost spread over every shard, and the slices depend only on the plan and ``N``).

Where ``I/N`` comes from: ``--shard I/N``; when the flag is absent, ``JOB_COMPLETION_INDEX`` (set by
Kubernetes in each pod of an Indexed Job) gives ``I`` and ``STRATUS_TRAINING_SHARD_COUNT`` (set by
the platform to the Job's ``completions``) gives ``N``. One without the other is an error.

A search is named by its ``--search-id`` (the Kubernetes Job's name on the cluster) and pinned by
its *search key*: a hash of everything that decides its trials' scores — the training data's
fingerprint and the config sections that shape data, split, features, estimator, search and seed.
A shard started with other data or another config under the same id is refused, and a re-run shard
skips exactly the trials already logged under the same id and key.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from training.config import TrainingConfig
from training.errors import ConfigError
from training.land import fingerprint

INDEX_ENV = "JOB_COMPLETION_INDEX"
COUNT_ENV = "STRATUS_TRAINING_SHARD_COUNT"
SEARCH_ID_ENV = "STRATUS_TRAINING_SEARCH_ID"
#: A search id is used in MLflow filter strings and Kubernetes names: keep it to a safe alphabet.
SEARCH_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def positions(self, total: int) -> range:
        """Positions in ``SearchPlan.trials()`` this shard runs."""
        return range(self.index, total, self.count)


def shard_of(position: int, count: int) -> int:
    """The shard that runs the trial at ``position`` of ``SearchPlan.trials()``."""
    return position % count


def make_shard(index: int, count: int, where: str) -> Shard:
    if count < 1:
        raise ConfigError(f"{where}: the shard count must be at least 1 (got {count})")
    if not 0 <= index < count:
        raise ConfigError(f"{where}: the shard index must be in 0..{count - 1} (got {index})")
    return Shard(index, count)


def parse_shard(text: str) -> Shard:
    """``"I/N"`` → ``Shard(I, N)``, or a ``ConfigError`` naming ``--shard``."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if match is None:
        raise ConfigError(f"--shard: expected I/N, e.g. 0/3 (got {text!r})")
    return make_shard(int(match[1]), int(match[2]), "--shard")


def _env_int(environ: Mapping[str, str], name: str) -> int:
    value = environ[name]
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name}: expected an integer (got {value!r})") from None


def resolve_shard(flag: str | None, environ: Mapping[str, str] | None = None) -> Shard | None:
    """The shard from ``--shard``, else from ``JOB_COMPLETION_INDEX`` + ``STRATUS_TRAINING_SHARD_
    COUNT``; ``None`` when neither is given (a single-process run)."""
    if flag is not None:
        return parse_shard(flag)
    env = os.environ if environ is None else environ
    has_index, has_count = INDEX_ENV in env, COUNT_ENV in env
    if not has_index and not has_count:
        return None
    if not has_count:
        raise ConfigError(
            f"{INDEX_ENV} is set but {COUNT_ENV} is not: set the shard count (or pass --shard I/N)"
        )
    if not has_index:
        raise ConfigError(
            f"{COUNT_ENV} is set but {INDEX_ENV} is not: set the shard index (or pass --shard I/N)"
        )
    where = f"{INDEX_ENV}/{COUNT_ENV}"
    return make_shard(_env_int(env, INDEX_ENV), _env_int(env, COUNT_ENV), where)


def check_search_id(search_id: str | None) -> str:
    if not search_id:
        raise ConfigError(f"--search-id is required (or set {SEARCH_ID_ENV})")
    if not SEARCH_ID_PATTERN.fullmatch(search_id):
        raise ConfigError(
            f"--search-id: {search_id!r} must be 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return search_id


def search_key(config: TrainingConfig, x_train: pd.DataFrame, y_train: pd.Series) -> str:
    """What decides every trial's scores: the training split's content and the config sections
    that shape it and the search (not the registry, stores, gate thresholds or ``n_jobs``)."""
    dumped = config.model_dump(mode="json")
    model = {k: v for k, v in dumped["model"].items() if k != "n_jobs"}
    decisive = {
        "seed": dumped["seed"],
        "data": dumped["data"],
        "validation": dumped["validation"],
        "split": dumped["split"],
        "features": dumped["features"],
        "model": model,
        "primary_metric": config.primary_metric,
    }
    digest = hashlib.sha256(json.dumps(decisive, sort_keys=True, default=str).encode())
    digest.update(fingerprint(x_train).encode())
    digest.update(fingerprint(y_train.to_frame()).encode())
    return digest.hexdigest()
