"""The published model bundle format, shared by the training publisher and the inference service.

A model store is any fsspec URL (a local directory, ``s3://bucket/prefix``, ``az://container/prefix``).
For a registered model ``NAME`` it holds::

    NAME/versions/VERSION/...   the MLflow model directory (MLmodel, model files, requirements)
    NAME/champion.json          the pointer: which version is the champion, and its checksum
    NAME/previous.json          the same for the rollback target (the registry's ``previous``)

Publishing uploads the whole version directory first and writes the pointers last (a single-object
write, atomic on S3 and Blob), so a reader never sees a pointer to a half-written bundle. Readers
verify every file against the pointer's per-file SHA-256 digests before loading.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec
from fsspec import AbstractFileSystem
from pydantic import BaseModel, ConfigDict, Field

POINTER_FILE = "champion.json"
#: The champion a publish replaced, mirroring the registry alias ``previous`` (rollback target).
PREVIOUS_POINTER_FILE = "previous.json"
VERSIONS_DIR = "versions"
FORMAT_VERSION = 1


class BundleError(RuntimeError):
    """A bundle or pointer is missing, unreadable or fails its checksum."""


class ModelPointer(BaseModel):
    """The content of ``NAME/champion.json``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format_version: int = FORMAT_VERSION
    name: str
    version: str
    bundle_path: str = Field(description="bundle directory relative to the store root")
    source_uri: str = Field(description="where the bundle came from, e.g. models:/NAME/3")
    run_id: str | None = None
    checksum: str = Field(description="SHA-256 over the sorted (path, file digest) pairs")
    files: dict[str, str] = Field(description="relative path → SHA-256 of each bundle file")
    published_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    metrics: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)


def open_store(
    url: str, storage_options: Mapping[str, Any] | None = None
) -> tuple[AbstractFileSystem, str]:
    """The filesystem and root path of a store URL (``/dir``, ``s3://b/p``, ``az://c/p``)."""
    fs, root = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    return fs, root.rstrip("/")


def pointer_path(root: str, name: str) -> str:
    return posixpath.join(root, name, POINTER_FILE)


def version_path(root: str, name: str, version: str) -> str:
    return posixpath.join(root, name, VERSIONS_DIR, str(version))


def combined_checksum(files: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for relpath in sorted(files):
        digest.update(f"{relpath}\0{files[relpath]}\n".encode())
    return digest.hexdigest()


def local_file_digests(directory: Path) -> dict[str, str]:
    """SHA-256 of every file under a local directory, keyed by POSIX relative path."""
    digests: dict[str, str] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digests[path.relative_to(directory).as_posix()] = _sha256_file(path)
    return digests


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def alias_pointer_path(root: str, name: str, alias: str) -> str:
    """``NAME/<alias>.json``: ``champion.json`` (served) or ``previous.json`` (rollback target)."""
    return posixpath.join(root, name, f"{alias}.json")


def read_pointer(fs: AbstractFileSystem, root: str, name: str) -> ModelPointer:
    path = pointer_path(root, name)
    try:
        raw = fs.cat_file(path)
    except FileNotFoundError:
        raise BundleError(f"no published model {name!r}: {path} does not exist") from None
    try:
        return ModelPointer.model_validate_json(raw)
    except ValueError as exc:
        raise BundleError(f"pointer {path} is not a valid model pointer: {exc}") from None


def read_alias_pointer(
    fs: AbstractFileSystem, root: str, name: str, alias: str
) -> ModelPointer | None:
    """The pointer ``NAME/<alias>.json``, ``None`` if absent; ``BundleError`` if unreadable."""
    path = alias_pointer_path(root, name, alias)
    try:
        raw = fs.cat_file(path)
    except FileNotFoundError:
        return None
    try:
        return ModelPointer.model_validate_json(raw)
    except ValueError as exc:
        raise BundleError(f"pointer {path} is not a valid model pointer: {exc}") from None


def make_pointer(
    *,
    name: str,
    version: str,
    files: Mapping[str, str],
    source_uri: str,
    run_id: str | None = None,
    metrics: Mapping[str, float] | None = None,
    tags: Mapping[str, str] | None = None,
) -> ModelPointer:
    return ModelPointer(
        name=name,
        version=str(version),
        bundle_path=posixpath.join(name, VERSIONS_DIR, str(version)),
        source_uri=source_uri,
        run_id=run_id,
        checksum=combined_checksum(files),
        files=dict(files),
        metrics=dict(metrics or {}),
        tags=dict(tags or {}),
    )


def upload_bundle(
    fs: AbstractFileSystem, root: str, *, local_dir: Path, name: str, version: str
) -> dict[str, str]:
    """Upload a local MLflow model directory as ``NAME/versions/VERSION`` (one recursive
    ``fs.put``); returns its file digests. A version directory this call created is removed
    again if the upload fails, so nothing half-written stays behind."""
    files = local_file_digests(local_dir)
    if not files:
        raise BundleError(f"model directory {local_dir} is empty")
    target = version_path(root, name, version)
    existed = fs.exists(target)
    try:
        if is_local_filesystem(fs):
            fs.makedirs(target, exist_ok=True)
        # The trailing slash copies the directory's content (not the directory) into target.
        fs.put(f"{local_dir}/", target, recursive=True)
    except Exception:
        # One that existed holds the same immutable registry version and may be in use.
        if not existed:
            _remove_quietly(fs, target)
        raise
    return files


def write_pointer(
    fs: AbstractFileSystem, root: str, name: str, alias: str, pointer: ModelPointer | bytes
) -> None:
    """Write ``NAME/<alias>.json`` atomically (the bundle must be complete before)."""
    if is_local_filesystem(fs):
        fs.makedirs(posixpath.join(root, name), exist_ok=True)
    data = pointer if isinstance(pointer, bytes) else pointer.model_dump_json(indent=2).encode()
    _write_atomically(fs, alias_pointer_path(root, name, alias), data)


def remove_pointer(fs: AbstractFileSystem, root: str, name: str, alias: str) -> None:
    _remove_quietly(fs, alias_pointer_path(root, name, alias))


def bundle_problem(
    fs: AbstractFileSystem,
    root: str,
    pointer: ModelPointer,
    *,
    sizes: Mapping[str, int] | None = None,
    deep: bool = False,
) -> str | None:
    """What is wrong with the store's copy of ``pointer``'s bundle, or ``None`` if it is whole.

    Shallow: every file exists (and has its expected size, when ``sizes`` are given) — one
    listing. Deep: every file's SHA-256 matches the pointer's digest — reads the whole bundle.
    """
    if combined_checksum(pointer.files) != pointer.checksum:
        return "the pointer's checksum does not match its file digests"
    base = posixpath.join(root, pointer.bundle_path)
    try:
        listing = fs.find(base, detail=True)
    except FileNotFoundError:
        listing = {}
    stored = {posixpath.relpath(path, base): info for path, info in listing.items()}
    for relpath, expected in sorted(pointer.files.items()):
        info = stored.get(relpath)
        if info is None:
            return f"bundle file {relpath} is missing"
        if sizes is not None and relpath in sizes and int(info.get("size") or 0) != sizes[relpath]:
            return f"bundle file {relpath} has {info.get('size')} bytes, expected {sizes[relpath]}"
        if deep:
            digest = hashlib.sha256()
            with fs.open(posixpath.join(base, relpath), "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            if digest.hexdigest() != expected:
                return f"bundle file {relpath} fails its checksum"
    return None


def write_bundle(
    fs: AbstractFileSystem,
    root: str,
    *,
    local_dir: Path,
    name: str,
    version: str,
    source_uri: str,
    run_id: str | None = None,
    metrics: Mapping[str, float] | None = None,
    tags: Mapping[str, str] | None = None,
    keep_previous: bool = True,
) -> ModelPointer:
    """Publish without a registry (tests, benchmarks, hand-made stores): upload the bundle, then
    move ``champion.json``.

    With ``keep_previous`` the champion pointer being replaced (when it names another version)
    becomes ``NAME/previous.json``; without it ``NAME/previous.json`` is removed. The training
    pipeline does not use this: its stores mirror the registry's aliases (``training/publish.py``).
    """
    files = upload_bundle(fs, root, local_dir=local_dir, name=name, version=version)
    pointer = make_pointer(
        name=name,
        version=version,
        files=files,
        source_uri=source_uri,
        run_id=run_id,
        metrics=metrics,
        tags=tags,
    )
    if keep_previous:
        with contextlib.suppress(FileNotFoundError):
            replaced = fs.cat_file(pointer_path(root, name))
            if ModelPointer.model_validate_json(replaced).version != pointer.version:
                write_pointer(fs, root, name, "previous", replaced)
    else:
        remove_pointer(fs, root, name, "previous")
    write_pointer(fs, root, name, "champion", pointer)
    return pointer


def _write_atomically(fs: AbstractFileSystem, path: str, data: bytes) -> None:
    """One object PUT on object stores (atomic there); temp file + rename on a local disk, where
    a plain write would let a reader see a truncated pointer."""
    if not is_local_filesystem(fs):
        fs.pipe_file(path, data)
        return
    temporary = f"{path}.{uuid.uuid4().hex}.tmp"
    fs.pipe_file(temporary, data)
    os.replace(temporary, path)


def is_local_filesystem(fs: AbstractFileSystem) -> bool:
    """A local disk (where a write is not atomic, unlike one object PUT on S3 or Blob)."""
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols or "local" in protocols


def _remove_quietly(fs: AbstractFileSystem, path: str) -> None:
    with contextlib.suppress(FileNotFoundError, OSError):
        fs.rm(path, recursive=True)


def fetch_bundle(
    fs: AbstractFileSystem, root: str, pointer: ModelPointer, destination: Path
) -> Path:
    """Download the pointer's bundle into ``destination`` and verify every file's digest."""
    source = posixpath.join(root, pointer.bundle_path)
    destination.mkdir(parents=True, exist_ok=True)
    for relpath, expected in pointer.files.items():
        local = destination / relpath
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            fs.get_file(posixpath.join(source, relpath), str(local))
        except FileNotFoundError:
            raise BundleError(f"bundle file missing: {posixpath.join(source, relpath)}") from None
        actual = _sha256_file(local)
        if actual != expected:
            raise BundleError(
                f"bundle file {relpath} of {pointer.name} v{pointer.version} fails its checksum "
                f"(expected {expected[:12]}…, got {actual[:12]}…)"
            )
    if combined_checksum(pointer.files) != pointer.checksum:
        raise BundleError(f"pointer checksum of {pointer.name} v{pointer.version} is inconsistent")
    return destination
