"""``python -m training sync-stores NAME --from URL --to URL``: mirror a model's published bundles
and pointers from one model store to another, so a cloud whose store missed publishes (it was
down, or its store was damaged) catches up from the other cloud's.

What is mirrored: ``NAME/champion.json`` and, when the source has one, ``NAME/previous.json``
(byte for byte: same version, checksums and publish time), and the bundle directory each names.
The target ends up serving exactly what the source serves; a target ``previous.json`` the source
no longer has is removed, as a rollback removes it.

All-or-nothing: every source file is downloaded and verified against its pointer's SHA-256
digests before the target is touched (a corrupted or incomplete source is refused, the target
unchanged); bundles are uploaded next and verified again by reading them back from the target;
the pointers are written last, ``previous`` then ``champion`` (one object write each, atomic on S3
and Blob). A failure before the champion pointer is written leaves the target's pointers as they
were and removes the bundle directories this run created; a version the target already holds
intact is not uploaded again, one that fails its checksums there is repaired.
"""

from __future__ import annotations

import contextlib
import posixpath
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from fsspec import AbstractFileSystem

from training.bundle import (
    POINTER_FILE,
    PREVIOUS_POINTER_FILE,
    BundleError,
    ModelPointer,
    _write_atomically,
    fetch_bundle,
    open_store,
)
from training.errors import TrainingError


class SyncError(TrainingError):
    """The source cannot be mirrored (missing or failing its checksums): nothing was changed."""


class SyncTargetError(SyncError):
    """Writing to the target failed: its pointers are unchanged (exit code 4, like publishing)."""

    exit_code = 4


@dataclass(frozen=True)
class _Published:
    """One pointer of the source: its parsed content and its exact bytes."""

    file: str
    pointer: ModelPointer
    raw: bytes


@dataclass
class SyncResult:
    name: str
    source: str
    target: str
    champion: str
    previous: str | None
    #: Versions uploaded (missing from the target, or failing their checksums there).
    copied: list[str] = field(default_factory=list)
    #: Versions the target already held intact.
    present: list[str] = field(default_factory=list)
    #: The target's pointers were already the source's.
    pointers_unchanged: bool = False

    def summary(self) -> str:
        previous = f", previous v{self.previous}" if self.previous else ", no previous"
        copied = ", ".join(f"v{v}" for v in self.copied) or "none"
        present = ", ".join(f"v{v}" for v in self.present) or "none"
        state = "already in sync" if self.pointers_unchanged and not self.copied else "mirrored"
        return (
            f"{self.name}: {state} {self.source} -> {self.target} (champion v{self.champion}"
            f"{previous}); bundles copied: {copied}; already intact: {present}"
        )


def _read_raw(fs: AbstractFileSystem, path: str) -> bytes | None:
    try:
        return bytes(fs.cat_file(path))
    except FileNotFoundError:
        return None


def _source_pointers(fs: AbstractFileSystem, root: str, name: str, url: str) -> list[_Published]:
    found: list[_Published] = []
    for file in (POINTER_FILE, PREVIOUS_POINTER_FILE):
        path = posixpath.join(root, name, file)
        raw = _read_raw(fs, path)
        if raw is None:
            if file == POINTER_FILE:
                raise SyncError(
                    f"refused: no published model {name!r} in {url} ({path} is missing)"
                )
            continue
        try:
            pointer = ModelPointer.model_validate_json(raw)
        except ValueError as exc:
            raise SyncError(f"refused: {path} is not a valid model pointer: {exc}") from None
        if pointer.name != name:
            raise SyncError(f"refused: {path} names model {pointer.name!r}, not {name!r}")
        found.append(_Published(file, pointer, raw))
    return found


def _upload(fs: AbstractFileSystem, root: str, pointer: ModelPointer, local: Path) -> None:
    target = posixpath.join(root, pointer.bundle_path)
    for relpath in pointer.files:
        remote = posixpath.join(target, relpath)
        fs.makedirs(posixpath.dirname(remote), exist_ok=True)
        fs.put_file(str(local / relpath), remote)


def _intact(fs: AbstractFileSystem, root: str, pointer: ModelPointer, scratch: Path) -> bool:
    try:
        fetch_bundle(fs, root, pointer, scratch)
    except (BundleError, OSError):
        return False
    return True


def sync_stores(name: str, source: str, target: str) -> SyncResult:
    """Mirror ``name``'s champion (and previous) from the store ``source`` to ``target``."""
    if source.rstrip("/") == target.rstrip("/"):
        raise SyncError(f"--from and --to are the same store ({source})")
    try:
        src_fs, src_root = open_store(source)
        dst_fs, dst_root = open_store(target)
    except Exception as exc:
        raise SyncError(f"cannot open the stores: {type(exc).__name__}: {exc}") from None
    pointers = _source_pointers(src_fs, src_root, name, source)
    versions = {p.pointer.version: p.pointer for p in pointers}
    result = SyncResult(
        name=name,
        source=source,
        target=target,
        champion=pointers[0].pointer.version,
        previous=pointers[1].pointer.version if len(pointers) > 1 else None,
    )
    with tempfile.TemporaryDirectory(prefix="stratus-sync-") as scratch_dir:
        scratch = Path(scratch_dir)
        local: dict[str, Path] = {}
        for version, pointer in versions.items():
            try:
                local[version] = fetch_bundle(src_fs, src_root, pointer, scratch / "src" / version)
            except (BundleError, OSError) as exc:
                raise SyncError(
                    f"refused: the source {source} fails verification, the target is unchanged: "
                    f"{exc}"
                ) from None
        created: list[str] = []
        try:
            for version, pointer in versions.items():
                bundle = posixpath.join(dst_root, pointer.bundle_path)
                if _intact(dst_fs, dst_root, pointer, scratch / "dst-before" / version):
                    result.present.append(version)
                    continue
                if not dst_fs.exists(bundle):
                    created.append(bundle)
                _upload(dst_fs, dst_root, pointer, local[version])
                if not _intact(dst_fs, dst_root, pointer, scratch / "dst-after" / version):
                    raise SyncTargetError(
                        f"{name} v{version} does not read back intact from {target}"
                    )
                result.copied.append(version)
            result.pointers_unchanged = _write_pointers(dst_fs, dst_root, name, pointers)
        except Exception as exc:
            for bundle in created:
                with contextlib.suppress(FileNotFoundError, OSError):
                    dst_fs.rm(bundle, recursive=True)
            if isinstance(exc, SyncTargetError):
                raise
            raise SyncTargetError(
                f"mirroring {name} to {target} failed, its pointers are unchanged: "
                f"{type(exc).__name__}: {exc}"
            ) from None
    return result


def _write_pointers(
    fs: AbstractFileSystem, root: str, name: str, pointers: list[_Published]
) -> bool:
    """Write ``previous`` then ``champion``; restore the old ``previous`` if the champion write
    fails. Returns whether the target already held exactly these pointers."""
    champion_path = posixpath.join(root, name, POINTER_FILE)
    previous_path = posixpath.join(root, name, PREVIOUS_POINTER_FILE)
    wanted_previous = pointers[1].raw if len(pointers) > 1 else None
    old_champion = _read_raw(fs, champion_path)
    old_previous = _read_raw(fs, previous_path)
    if old_champion == pointers[0].raw and old_previous == wanted_previous:
        return True
    fs.makedirs(posixpath.join(root, name), exist_ok=True)
    _set_pointer(fs, previous_path, wanted_previous)
    try:
        _write_atomically(fs, champion_path, pointers[0].raw)
    except Exception:
        with contextlib.suppress(Exception):
            _set_pointer(fs, previous_path, old_previous)
        raise
    return False


def _set_pointer(fs: AbstractFileSystem, path: str, raw: bytes | None) -> None:
    if raw is not None:
        _write_atomically(fs, path, raw)
    elif fs.exists(path):
        fs.rm(path)
