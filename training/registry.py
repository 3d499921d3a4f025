"""Stage 8 — the MLflow side: tracking URI, logging the candidate, registering it, moving aliases.

Aliases: ``champion`` (the served model; moves only when the gate passes, or by ``promote``) and
``previous`` (the champion it replaced; ``rollback`` restores it). Every version carries the tag
``validation_status`` (``accepted``/``rejected``) and its lineage (data fingerprint, code version,
config hash, metrics).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
import mlflow
import numpy as np
import pandas as pd
import sklearn
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo
from sklearn.pipeline import Pipeline

import training
from training import features as features_module
from training.errors import RegistryError

CHAMPION = "champion"
PREVIOUS = "previous"
#: Registered-model tag journaling an alias move in progress (see ``AliasMove``).
MOVE_TAG = "stratus.alias_move"
STATUS_TAG = "validation_status"
ACCEPTED = "accepted"
REJECTED = "rejected"
#: MLflow 3 defaults to skops, which refuses the numpy/sklearn types tree models pickle unless each
#: is trusted by name; cloudpickle round-trips any Pipeline, including our own transformer class.
SERIALIZATION_FORMAT = "cloudpickle"
#: How MLflow's notice about that choice begins (``mlflow.sklearn.save_model``).
PICKLE_NOTICE = "Saving scikit-learn models in the pickle or cloudpickle format"
INPUT_EXAMPLE_ROWS = 5


def resolve_tracking_uri(configured: str | None, workdir: Path) -> str:
    """``MLFLOW_TRACKING_URI`` > ``registry.tracking_uri`` > ``sqlite:///<workdir>/mlflow.db``."""
    from_env = os.environ.get("MLFLOW_TRACKING_URI")
    if from_env:
        return from_env
    if configured:
        return configured
    workdir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{workdir.resolve() / 'mlflow.db'}"


def is_local(tracking_uri: str) -> bool:
    return tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri


def client_for(tracking_uri: str) -> MlflowClient:
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def ensure_experiment(client: MlflowClient, name: str, tracking_uri: str, workdir: Path) -> str:
    """The experiment id, created if absent (by whichever of several concurrent runs comes first);
    a local tracking store keeps artifacts in ``<workdir>/mlartifacts``."""
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    location = (workdir.resolve() / "mlartifacts").as_uri() if is_local(tracking_uri) else None
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except MlflowException as exc:
        # Runs started together (the shards of a search) race to create it: the loser uses it.
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        created = client.get_experiment_by_name(name)
        if created is None:
            raise
        return str(created.experiment_id)


def code_version() -> str:
    """``STRATUS_CODE_VERSION`` (set in images), else the git commit of the checkout, else the
    package version."""
    if from_env := os.environ.get("STRATUS_CODE_VERSION"):
        return from_env
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(training.__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return described.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("stratus")
        except PackageNotFoundError:
            return "unknown"


def log_model(model: Pipeline, x_example: pd.DataFrame) -> ModelInfo:
    """Log the fitted Pipeline in the active run (signature on the raw input columns)."""
    example = x_example.head(INPUT_EXAMPLE_ROWS)
    signature = infer_signature(example, model.predict(example))
    requirements = [
        f"scikit-learn=={sklearn.__version__}",
        f"cloudpickle=={cloudpickle.__version__}",
        f"pandas=={pd.__version__}",
        f"numpy=={np.__version__}",
    ]
    # Our own transformer is pickled by value, so loading the model needs no `training` package.
    cloudpickle.register_pickle_by_value(features_module)
    sklearn_logger = logging.getLogger("mlflow.sklearn")
    sklearn_logger.addFilter(_chosen_format_notice)
    try:
        return mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=example,
            serialization_format=SERIALIZATION_FORMAT,
            pip_requirements=requirements,
        )
    finally:
        sklearn_logger.removeFilter(_chosen_format_notice)
        cloudpickle.unregister_pickle_by_value(features_module)


def _chosen_format_notice(record: logging.LogRecord) -> bool:
    """Drop MLflow's advice to prefer skops, logged on every cloudpickle save: Stratus chose
    cloudpickle deliberately (``SERIALIZATION_FORMAT``; skops cannot load these Pipelines without
    trusting every internal type by name) and verifies each bundle's SHA-256 before loading it.
    Only that one notice, only while Stratus logs a model: every other record passes."""
    return not record.getMessage().startswith(PICKLE_NOTICE)


def register(
    client: MlflowClient, name: str, model_info: ModelInfo, run_id: str, tags: dict[str, str]
) -> ModelVersion:
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="Stratus model (training pipeline)")
    return client.create_model_version(
        name, source=model_info.model_uri, run_id=run_id, tags=tags, model_id=model_info.model_id
    )


def alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise RegistryError(f"cannot read alias {alias!r} of {name}: {exc.message}") from None


def aliases(client: MlflowClient, name: str) -> dict[str, str]:
    """The model's aliases, ``{alias: version}`` (versions as the registry's canonical strings)."""
    try:
        model = client.get_registered_model(name)
    except MlflowException:
        raise RegistryError(f"no registered model named {name!r}") from None
    return {alias: str(version) for alias, version in (model.aliases or {}).items()}


@dataclass(frozen=True)
class AliasMove:
    """A journaled alias move: the target state, and the state it started from.

    Moving two aliases takes two registry writes; a process killed between them would leave
    ``previous == champion`` (or a champion whose ``previous`` is not what it replaced). So the
    move is first written as a registered-model tag (``MOVE_TAG``), then applied, then the tag is
    deleted. A tag still present means a move was interrupted: every command refuses to act on the
    model until ``reconcile`` completes it (``complete_move``).
    """

    champion: str
    previous: str | None
    from_champion: str | None
    from_previous: str | None
    by: str
    started_at: str

    def describe(self) -> str:
        previous = f"v{self.previous}" if self.previous else "none"
        return (
            f"champion v{self.from_champion or '-'} → v{self.champion}, previous → {previous} "
            f"(by {self.by}, started {self.started_at})"
        )


def pending_move(client: MlflowClient, name: str) -> AliasMove | None:
    try:
        tags = client.get_registered_model(name).tags or {}
    except MlflowException:
        return None
    raw = tags.get(MOVE_TAG)
    if raw is None:
        return None
    try:
        return AliasMove(**json.loads(raw))
    except (TypeError, ValueError):
        raise RegistryError(
            f"{name} carries an unreadable {MOVE_TAG} tag ({raw[:200]!r}): an alias move was "
            "interrupted; check the aliases with `show`, then delete the tag in MLflow"
        ) from None


def consistency_problems(client: MlflowClient, name: str) -> list[str]:
    """Why the registry's aliases of ``name`` cannot be trusted as they are (empty: they can)."""
    problems: list[str] = []
    move = pending_move(client, name)
    if move is not None:
        problems.append(f"an alias move was interrupted: {move.describe()}")
    current = aliases(client, name)
    if move is None and PREVIOUS in current and current[PREVIOUS] == current.get(CHAMPION):
        problems.append(
            f"'previous' and 'champion' both name v{current[CHAMPION]} (an interrupted alias "
            "move, or an edit by hand): there is nothing to roll back to"
        )
    return problems


def require_consistent(client: MlflowClient, name: str) -> None:
    problems = consistency_problems(client, name)
    if problems:
        raise RegistryError(
            f"the aliases of {name} need repair before anything moves them: "
            + "; ".join(problems)
            + f". Run `python -m training reconcile {name}` to repair them and the stores."
        )


def require_consistent_if_registered(client: MlflowClient, name: str) -> None:
    """``require_consistent`` for a model that exists (a first run has nothing to check)."""
    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return
        raise
    require_consistent(client, name)


def _apply(client: MlflowClient, name: str, move: AliasMove, guard: Callable[[], None]) -> None:
    guard()
    client.set_registered_model_tag(name, MOVE_TAG, json.dumps(asdict(move)))
    if move.previous is None:
        if alias_version(client, name, PREVIOUS) is not None:
            client.delete_registered_model_alias(name, PREVIOUS)
    else:
        client.set_registered_model_alias(name, PREVIOUS, move.previous)
    client.set_registered_model_alias(name, CHAMPION, move.champion)
    client.delete_registered_model_tag(name, MOVE_TAG)


def _move(
    client: MlflowClient,
    name: str,
    *,
    champion: str,
    previous: str | None,
    by: str,
    guard: Callable[[], None],
) -> None:
    current = aliases(client, name)
    move = AliasMove(
        champion=champion,
        previous=previous,
        from_champion=current.get(CHAMPION),
        from_previous=current.get(PREVIOUS),
        by=by,
        started_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    )
    _apply(client, name, move, guard)


def _no_guard() -> None:
    return None


def move_champion(
    client: MlflowClient,
    name: str,
    version: str,
    *,
    by: str,
    guard: Callable[[], None] = _no_guard,
) -> str | None:
    """Point ``champion`` at ``version``; the replaced champion becomes ``previous``.

    Returns the replaced champion's version (``None`` if there was none or it is the same: a
    champion promoted again keeps its ``previous``). ``by`` is journaled with the move (the
    command that made it); ``guard`` runs before the first write (the lock's ``check``).
    """
    require_consistent(client, name)
    current = alias_version(client, name, CHAMPION)
    if current is not None and str(current.version) == str(version):
        return None
    replaced = str(current.version) if current is not None else None
    previous = replaced if replaced is not None else aliases(client, name).get(PREVIOUS)
    _move(client, name, champion=str(version), previous=previous, by=by, guard=guard)
    return replaced


def normalise_version(client: MlflowClient, name: str, version: str) -> str:
    """The registry's own spelling of ``version`` (``"03"`` → ``"3"``), or a clear error."""
    text = version.strip()
    if not text.isdigit() or int(text) < 1:
        raise RegistryError(f"a model version is a positive number like 3, got {version!r}")
    return str(get_version(client, name, str(int(text))).version)


def get_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    try:
        return client.get_model_version(name, version)
    except MlflowException:
        raise RegistryError(f"model {name!r} has no version {version!r}") from None


def require_model(client: MlflowClient, name: str) -> None:
    try:
        client.get_registered_model(name)
    except MlflowException:
        raise RegistryError(f"no registered model named {name!r}") from None


def promote(
    client: MlflowClient,
    name: str,
    version: str,
    *,
    force: bool = False,
    guard: Callable[[], None] = _no_guard,
) -> tuple[str, str | None]:
    """Make ``version`` the champion by hand; rejected versions need ``force``.

    Returns (the normalised version, the replaced champion or ``None``).
    """
    require_model(client, name)
    version = normalise_version(client, name, version)
    candidate = get_version(client, name, version)
    status = candidate.tags.get(STATUS_TAG)
    if status == REJECTED and not force:
        reasons = candidate.tags.get("gate")
        raise RegistryError(
            f"{name} v{version} was rejected by the gate{f' ({reasons})' if reasons else ''}; "
            "pass --force to promote it anyway"
        )
    return version, move_champion(client, name, version, by="promote", guard=guard)


def rollback(
    client: MlflowClient, name: str, *, guard: Callable[[], None] = _no_guard
) -> tuple[str, str]:
    """``champion`` ← ``previous`` and ``previous`` removed; returns (restored, demoted)."""
    require_model(client, name)
    require_consistent(client, name)
    current = aliases(client, name)
    previous = current.get(PREVIOUS)
    if previous is None:
        raise RegistryError(f"model {name!r} has no {PREVIOUS!r} version to roll back to")
    demoted = current.get(CHAMPION, "")
    _move(client, name, champion=previous, previous=None, by="rollback", guard=guard)
    if demoted:
        client.set_model_version_tag(name, demoted, "rolled_back", "true")
    return previous, demoted


def repair(client: MlflowClient, name: str, *, guard: Callable[[], None] = _no_guard) -> list[str]:
    """Make the aliases consistent again; returns what was changed (``reconcile``).

    An interrupted move is completed when the aliases are still in a state the move passes
    through (its start, partly applied, or done); ``previous == champion`` without a journal
    loses the stale ``previous``.
    """
    require_model(client, name)
    changes: list[str] = []
    move = pending_move(client, name)
    if move is not None:
        current = aliases(client, name)
        champion_ok = current.get(CHAMPION) in (move.from_champion, move.champion)
        previous_ok = current.get(PREVIOUS) in (move.from_previous, move.previous)
        if not (champion_ok and previous_ok):
            raise RegistryError(
                f"{name}: an interrupted alias move ({move.describe()}) cannot be completed: the "
                f"aliases changed since (now {current}). Set them with `promote`, then delete the "
                f"registered-model tag {MOVE_TAG!r}"
            )
        _apply(client, name, move, guard)
        changes.append(f"completed the interrupted alias move: {move.describe()}")
    current = aliases(client, name)
    if PREVIOUS in current and current[PREVIOUS] == current.get(CHAMPION):
        guard()
        client.delete_registered_model_alias(name, PREVIOUS)
        changes.append(
            f"removed alias 'previous' (it named the champion v{current[CHAMPION]} itself)"
        )
    return changes


@dataclass(frozen=True)
class VersionInfo:
    version: str
    aliases: list[str]
    status: str
    metrics: dict[str, float]
    tags: dict[str, str]
    created: int


def describe(client: MlflowClient, name: str) -> list[VersionInfo]:
    """Every version of ``name`` (newest first) with aliases, status and recorded metrics."""
    require_model(client, name)
    model = client.get_registered_model(name)
    aliases_by_version: dict[str, list[str]] = {}
    for alias, version in (model.aliases or {}).items():
        aliases_by_version.setdefault(str(version), []).append(alias)
    versions = client.search_model_versions(f"name = '{name}'")
    infos = [
        VersionInfo(
            version=str(v.version),
            aliases=sorted(aliases_by_version.get(str(v.version), [])),
            status=v.tags.get(STATUS_TAG, ""),
            metrics={
                k.removeprefix("metric."): float(val)
                for k, val in v.tags.items()
                if k.startswith("metric.")
            },
            tags=dict(v.tags),
            created=int(v.creation_timestamp or 0),
        )
        for v in versions
    ]
    return sorted(infos, key=lambda info: int(info.version), reverse=True)


def load_version(name: str, version: str) -> Any:
    return mlflow.sklearn.load_model(f"models:/{name}/{version}")


def version_tags(
    *,
    fingerprint: str,
    data_url: str,
    config_hash: str,
    metrics: dict[str, float],
    status: str,
    gate_summary: str,
    estimator: str,
    task: str,
    comparability: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The lineage and gate tags of a new version. ``comparability``: what later gates need to
    compare with it (split rule and test size, input schema, what its metrics measure)."""
    tags = {
        "data_fingerprint": fingerprint,
        "data_url": data_url,
        "code_version": code_version(),
        "config_hash": config_hash,
        STATUS_TAG: status,
        "gate": gate_summary[:4900],
        "estimator": estimator,
        "task": task,
    }
    tags.update(comparability or {})
    tags.update({f"metric.{name}": f"{value:.6f}" for name, value in metrics.items()})
    return tags


def model_input_columns(model: Any) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else None
