"""Where the served model comes from: the MLflow registry or a published bundle store.

``STRATUS_MODEL_URI`` names both the model and the alias that is followed:

* ``models:/NAME@ALIAS`` — the MLflow Model Registry (tracking server from
  ``STRATUS_MLFLOW_TRACKING_URI`` or ``MLFLOW_TRACKING_URI``); ``models:/NAME/VERSION`` pins a
  version.
* ``STORE_URL/NAME[@ALIAS]`` — a bundle store written by ``training.bundle`` (a local directory,
  ``s3://bucket/prefix``, ``az://container/prefix``): the pointer ``NAME/ALIAS.json``
  (``champion.json`` by default).
"""

from __future__ import annotations

import posixpath
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.model.loaded import LoadedModel, ModelIdentity, ModelLoadError, load_model_dir

DEFAULT_ALIAS = "champion"
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_REGISTRY_ALIAS = re.compile(rf"^models:/(?P<name>{_NAME})@(?P<alias>[A-Za-z0-9_-]+)$")
_REGISTRY_VERSION = re.compile(rf"^models:/(?P<name>{_NAME})/(?P<version>\d+)$")
_STORE_TAIL = re.compile(rf"^(?P<name>{_NAME})(@(?P<alias>[A-Za-z0-9_-]+))?$")


class ModelSourceError(ValueError):
    """STRATUS_MODEL_URI cannot be understood."""


class ModelSource(Protocol):
    """Resolves an alias to a version and loads that version (blocking; run off the loop)."""

    @property
    def name(self) -> str: ...

    @property
    def alias(self) -> str: ...

    @property
    def description(self) -> str: ...

    def resolve(self, alias: str) -> ModelIdentity: ...

    def load(self, identity: ModelIdentity, cache_dir: Path | None) -> LoadedModel: ...


@dataclass
class RegistrySource:
    name: str
    alias: str
    tracking_uri: str | None
    pinned_version: str | None = None

    @property
    def description(self) -> str:
        target = self.pinned_version or f"@{self.alias}"
        return f"models:/{self.name}{'/' if self.pinned_version else ''}{target}"

    def resolve(self, alias: str) -> ModelIdentity:
        from mlflow import MlflowClient

        if self.pinned_version is not None and alias == self.alias:
            version = self.pinned_version
        else:
            client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
            try:
                version = str(client.get_model_version_by_alias(self.name, alias).version)
            except Exception as exc:
                raise ModelLoadError(
                    f"cannot resolve models:/{self.name}@{alias} "
                    f"at {self.tracking_uri or 'the default tracking URI'}: {exc}"
                ) from exc
        return ModelIdentity(self.name, version, f"models:/{self.name}/{version}", alias)

    def load(self, identity: ModelIdentity, cache_dir: Path | None) -> LoadedModel:
        import mlflow.artifacts

        with tempfile.TemporaryDirectory(prefix="stratus-model-", dir=cache_dir) as tmp:
            try:
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=identity.source,
                    dst_path=tmp,
                    tracking_uri=self.tracking_uri,
                    registry_uri=self.tracking_uri,
                )
            except Exception as exc:
                raise ModelLoadError(f"cannot download {identity.source}: {exc}") from exc
            return load_model_dir(Path(local), identity)


@dataclass
class StoreSource:
    store_url: str
    name: str
    alias: str

    @property
    def description(self) -> str:
        return f"{self.store_url}/{self.name}@{self.alias}"

    def resolve(self, alias: str) -> ModelIdentity:
        from training.bundle import BundleError, ModelPointer, open_store

        try:
            fs, root = open_store(self.store_url)
            path = posixpath.join(root, self.name, f"{alias}.json")
            pointer = ModelPointer.model_validate_json(fs.cat_file(path))
        except FileNotFoundError:
            raise ModelLoadError(
                f"no pointer {self.name}/{alias}.json in {self.store_url}"
            ) from None
        except (BundleError, ValueError, OSError) as exc:
            raise ModelLoadError(f"cannot read {self.description}: {exc}") from exc
        if pointer.name != self.name:
            raise ModelLoadError(f"pointer {self.name}/{alias}.json names model {pointer.name!r}")
        return ModelIdentity(
            self.name, pointer.version, f"{self.store_url}/{pointer.bundle_path}", alias
        )

    def load(self, identity: ModelIdentity, cache_dir: Path | None) -> LoadedModel:
        from training.bundle import BundleError, ModelPointer, fetch_bundle, open_store

        with tempfile.TemporaryDirectory(prefix="stratus-model-", dir=cache_dir) as tmp:
            try:
                fs, root = open_store(self.store_url)
                alias = identity.alias or self.alias
                raw = fs.cat_file(posixpath.join(root, self.name, f"{alias}.json"))
                pointer = ModelPointer.model_validate_json(raw)
                if pointer.version != identity.version:
                    raise ModelLoadError(
                        f"{self.name}@{alias} moved to v{pointer.version} while loading "
                        f"v{identity.version}; the next check picks it up"
                    )
                local = fetch_bundle(fs, root, pointer, Path(tmp) / "model")
            except ModelLoadError:
                raise
            except (BundleError, ValueError, OSError) as exc:
                raise ModelLoadError(f"cannot fetch {identity.source}: {exc}") from exc
            return load_model_dir(local, identity)


def parse_model_uri(uri: str, tracking_uri: str | None) -> RegistrySource | StoreSource:
    """The model source named by ``STRATUS_MODEL_URI`` (see the module docstring)."""
    uri = uri.strip()
    if uri.startswith("models:"):
        if match := _REGISTRY_ALIAS.match(uri):
            return RegistrySource(match["name"], match["alias"], tracking_uri)
        if match := _REGISTRY_VERSION.match(uri):
            return RegistrySource(match["name"], DEFAULT_ALIAS, tracking_uri, match["version"])
        raise ModelSourceError(
            f"STRATUS_MODEL_URI={uri!r}: expected models:/NAME@ALIAS or models:/NAME/VERSION"
        )
    base, _, tail = uri.rstrip("/").rpartition("/")
    match = _STORE_TAIL.match(tail)
    if not base or match is None:
        raise ModelSourceError(
            f"STRATUS_MODEL_URI={uri!r}: expected models:/NAME@ALIAS or STORE_URL/NAME[@ALIAS] "
            "(e.g. s3://bucket/models/stratus-classifier)"
        )
    if base.endswith(":/") or base.endswith(":"):
        raise ModelSourceError(f"STRATUS_MODEL_URI={uri!r}: the store URL has no bucket/container")
    return StoreSource(base, match["name"], match["alias"] or DEFAULT_ALIAS)
