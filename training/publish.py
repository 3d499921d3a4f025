"""Stage 9 — publish: make every model store's pointers say what the registry's aliases say.

``champion.json`` names the registry's ``champion``; ``previous.json`` names its ``previous``, or is
absent when the registry has none (after a rollback). The aliases are read from the registry at
publish time, under the model's lock (``training/lock.py``): a store never copies its own old
pointer, so a run that was killed before publishing, or a concurrent run, cannot leave a store
disagreeing with the registry once the next publish (or ``reconcile``) has run.

Per store and alias: a pointer that already names the right version with the registry version's
checksum is kept (its bundle checked: every file present with its size; ``verify=True`` — what
``reconcile`` does — reads every file and checks its SHA-256). Otherwise the version's bundle is
uploaded (unless the store already holds it whole) and the pointer written: ``previous.json``
first, ``champion.json`` last. Each store is all-or-nothing per pointer; all stores are attempted
and failures reported together (exit code 4). A store's bucket/container must exist: nothing
here ever creates one (``training/locations.py``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient

from training.bundle import (
    BundleError,
    ModelPointer,
    bundle_problem,
    combined_checksum,
    local_file_digests,
    make_pointer,
    open_store,
    read_alias_pointer,
    remove_pointer,
    upload_bundle,
    write_pointer,
)
from training.errors import PublishError, RegistryError
from training.locations import check_location
from training.registry import CHAMPION, PREVIOUS, aliases

#: Pointers in the order they are written (the served one last).
ALIASES = (PREVIOUS, CHAMPION)


@dataclass(frozen=True)
class LocalVersion:
    """A registered version downloaded once per publish, with what its pointer records."""

    version: str
    directory: Path
    files: dict[str, str]
    sizes: dict[str, int]
    run_id: str | None
    metrics: dict[str, float]
    tags: dict[str, str]

    def pointer(self, name: str) -> ModelPointer:
        return make_pointer(
            name=name,
            version=self.version,
            files=self.files,
            source_uri=f"models:/{name}/{self.version}",
            run_id=self.run_id,
            metrics=self.metrics,
            tags=self.tags,
        )


class RegistryVersions:
    """Registry versions of one model, each downloaded at most once (into ``scratch``)."""

    def __init__(self, client: MlflowClient, name: str, scratch: Path) -> None:
        self.client, self.name, self.scratch = client, name, scratch
        self._cache: dict[str, LocalVersion] = {}

    def get(self, version: str) -> LocalVersion:
        if version not in self._cache:
            self._cache[version] = self._download(version)
        return self._cache[version]

    def _download(self, version: str) -> LocalVersion:
        model_version = self.client.get_model_version(self.name, version)
        directory = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{self.name}/{version}",
                dst_path=str(self.scratch / f"v{version}"),
            )
        )
        tags = dict(model_version.tags or {})
        return LocalVersion(
            version=str(version),
            directory=directory,
            files=local_file_digests(directory),
            sizes={
                p.relative_to(directory).as_posix(): p.stat().st_size
                for p in directory.rglob("*")
                if p.is_file()
            },
            run_id=model_version.run_id,
            metrics={
                k.removeprefix("metric."): float(v)
                for k, v in tags.items()
                if k.startswith("metric.")
            },
            tags={k: v for k, v in tags.items() if not k.startswith("metric.")},
        )


@contextmanager
def registry_versions(client: MlflowClient, name: str) -> Iterator[RegistryVersions]:
    with tempfile.TemporaryDirectory(prefix="stratus-bundle-") as scratch:
        yield RegistryVersions(client, name, Path(scratch))


@dataclass(frozen=True)
class PointerChange:
    alias: str
    before: str | None
    after: str | None
    uploaded: bool = False
    why: str = ""

    @property
    def changed(self) -> bool:
        return self.before != self.after or bool(self.why)

    def describe(self) -> str:
        file = f"{self.alias}.json"
        if not self.changed:
            return f"{file}: v{self.after} (unchanged, verified)"
        if self.after is None:
            return f"{file}: removed ({f'was v{self.before}' if self.before else self.why})"
        before = f"v{self.before}" if self.before else "absent"
        upload = ", bundle uploaded" if self.uploaded else ""
        why = f" ({self.why})" if self.why else ""
        return f"{file}: {before} → v{self.after}{upload}{why}"


@dataclass(frozen=True)
class Published:
    store: str
    pointer: ModelPointer | None
    error: str | None = None
    changes: list[PointerChange] = field(default_factory=list)


def desired_aliases(client: MlflowClient, name: str) -> dict[str, str | None]:
    """What the stores must say, read from the registry now."""
    current = aliases(client, name)
    if CHAMPION not in current:
        raise RegistryError(
            f"the registry has no champion for {name}: nothing to publish (stores left as they are)"
        )
    return {alias: current.get(alias) for alias in ALIASES}


def sync_store(
    store: str,
    *,
    name: str,
    desired: dict[str, str | None],
    versions: RegistryVersions,
    verify: bool = False,
) -> Published:
    """Make ``store``'s pointers of ``name`` match ``desired`` (see the module docstring)."""
    check_location(store, "publish.stores")
    fs, root = open_store(store)
    changes: list[PointerChange] = []
    champion: ModelPointer | None = None
    for alias in ALIASES:
        version = desired.get(alias)
        current, unreadable = _current(fs, root, name, alias)
        before = current.version if current else None
        if version is None:
            if current is not None or unreadable:
                remove_pointer(fs, root, name, alias)
                changes.append(PointerChange(alias, before, None, why=unreadable))
            continue
        local = versions.get(version)
        wanted = local.pointer(name)
        if current is not None and current.version == version:
            problem = (
                "its checksum differs from the registry version's"
                if current.checksum != combined_checksum(local.files)
                else bundle_problem(fs, root, current, sizes=local.sizes, deep=verify)
            )
            if problem is None:
                changes.append(PointerChange(alias, before, version))
                if alias == CHAMPION:
                    champion = current
                continue
        else:
            problem = unreadable
        uploaded = False
        if bundle_problem(fs, root, wanted, sizes=local.sizes, deep=verify) is not None:
            upload_bundle(fs, root, local_dir=local.directory, name=name, version=version)
            uploaded = True
        write_pointer(fs, root, name, alias, wanted)
        changes.append(PointerChange(alias, before, version, uploaded, problem or ""))
        if alias == CHAMPION:
            champion = wanted
    return Published(store, champion, changes=changes)


def _current(fs: Any, root: str, name: str, alias: str) -> tuple[ModelPointer | None, str]:
    try:
        return read_alias_pointer(fs, root, name, alias), ""
    except BundleError as exc:  # an unreadable pointer is replaced, and the report says so
        return None, f"the old pointer was unreadable: {exc}"


def publish(
    stores: list[str],
    *,
    client: MlflowClient,
    name: str,
    verify: bool = False,
) -> list[Published]:
    """Sync every store with the registry's aliases; raise ``PublishError`` if any store failed."""
    desired = desired_aliases(client, name)
    results: list[Published] = []
    with registry_versions(client, name) as versions:
        for store in stores:
            try:
                results.append(
                    sync_store(store, name=name, desired=desired, versions=versions, verify=verify)
                )
            except Exception as exc:  # any store failure is reported, the others still publish
                results.append(Published(store, None, f"{type(exc).__name__}: {exc}"))
    failed = [r for r in results if r.error]
    if failed:
        details = "\n".join(f"  - {r.store}: {r.error}" for r in failed)
        ok = ", ".join(r.store for r in results if not r.error) or "none"
        raise PublishError(
            f"publishing {name} (champion v{desired[CHAMPION]}) failed for {len(failed)} of "
            f"{len(results)} stores (a failed store keeps its previous pointers; in sync: {ok}; "
            f"`python -m training reconcile {name}` retries):\n{details}",
            results=results,
        )
    return results
