"""Stage 8 — the MLflow side: tracking URI, logging the candidate, registering it, moving aliases.

Aliases: ``champion`` (the served model; moves only when the gate passes, or by ``promote``) and
``previous`` (the champion it replaced; ``rollback`` restores it). Every version carries the tag
``validation_status`` (``accepted``/``rejected``) and its lineage (data fingerprint, code version,
config hash, metrics).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
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
STATUS_TAG = "validation_status"
ACCEPTED = "accepted"
REJECTED = "rejected"
#: MLflow 3 defaults to skops, which refuses the numpy/sklearn types tree models pickle unless each
#: is trusted by name; cloudpickle round-trips any Pipeline, including our own transformer class.
SERIALIZATION_FORMAT = "cloudpickle"
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
    """The experiment id; a local tracking store keeps artifacts in ``<workdir>/mlartifacts``."""
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    location = (workdir.resolve() / "mlartifacts").as_uri() if is_local(tracking_uri) else None
    return str(client.create_experiment(name, artifact_location=location))


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
        cloudpickle.unregister_pickle_by_value(features_module)


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
    except MlflowException:
        return None


def move_champion(client: MlflowClient, name: str, version: str) -> str | None:
    """Point ``champion`` at ``version``; the replaced champion becomes ``previous``.

    Returns the replaced champion's version (``None`` if there was none or it is the same).
    """
    current = alias_version(client, name, CHAMPION)
    replaced = None
    if current is not None and str(current.version) != str(version):
        client.set_registered_model_alias(name, PREVIOUS, current.version)
        replaced = str(current.version)
    client.set_registered_model_alias(name, CHAMPION, version)
    return replaced


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


def promote(client: MlflowClient, name: str, version: str, *, force: bool = False) -> str | None:
    """Make ``version`` the champion by hand; rejected versions need ``force``."""
    require_model(client, name)
    candidate = get_version(client, name, version)
    status = candidate.tags.get(STATUS_TAG)
    if status == REJECTED and not force:
        raise RegistryError(
            f"{name} v{version} was rejected by the gate ({candidate.tags.get('gate', '')}); "
            "pass --force to promote it anyway"
        )
    return move_champion(client, name, str(version))


def rollback(client: MlflowClient, name: str) -> tuple[str, str]:
    """``champion`` ← ``previous``; returns (restored version, demoted version)."""
    require_model(client, name)
    previous = alias_version(client, name, PREVIOUS)
    if previous is None:
        raise RegistryError(f"model {name!r} has no {PREVIOUS!r} version to roll back to")
    current = alias_version(client, name, CHAMPION)
    client.set_registered_model_alias(name, CHAMPION, previous.version)
    client.delete_registered_model_alias(name, PREVIOUS)
    demoted = str(current.version) if current is not None else ""
    if current is not None:
        client.set_model_version_tag(name, current.version, "rolled_back", "true")
    return str(previous.version), demoted


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
) -> dict[str, str]:
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
    tags.update({f"metric.{name}": f"{value:.6f}" for name, value in metrics.items()})
    return tags


def model_input_columns(model: Any) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else None
