"""The publishing side of ``training/bundle.py``: all-or-nothing per store."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from tests.training.stores import FailingAfter
from training.bundle import (
    BundleError,
    ModelPointer,
    bundle_problem,
    fetch_bundle,
    is_local_filesystem,
    make_pointer,
    open_store,
    read_alias_pointer,
    read_pointer,
    remove_pointer,
    write_bundle,
    write_pointer,
)


def _model_dir(tmp_path: Path, content: str = "v") -> Path:
    directory = tmp_path / f"model-{content}"
    (directory / "sub").mkdir(parents=True, exist_ok=True)
    for name in ("MLmodel", "model.pkl", "sub/requirements.txt"):
        (directory / name).write_text(f"{name} {content}")
    return directory


def _write(fs: Any, root: str, local: Path, version: str) -> None:
    write_bundle(
        fs, root, local_dir=local, name="m", version=version, source_uri=f"models:/m/{version}"
    )


def test_mid_upload_failure_leaves_no_bundle_and_the_old_pointer(tmp_path: Path) -> None:
    root = str(tmp_path / "store")
    fs, root = open_store(root)
    _write(fs, root, _model_dir(tmp_path, "one"), "1")
    failing = FailingAfter(uploads=1)
    with pytest.raises(ConnectionError):
        _write(failing, root, _model_dir(tmp_path, "two"), "2")
    assert not fs.exists(f"{root}/m/versions/2")
    assert read_pointer(fs, root, "m").version == "1"
    fetched = fetch_bundle(fs, root, read_pointer(fs, root, "m"), tmp_path / "fetched")
    assert (fetched / "MLmodel").read_text() == "MLmodel one"


def test_republishing_an_existing_version_keeps_it_on_failure(tmp_path: Path) -> None:
    fs, root = open_store(str(tmp_path / "store"))
    local = _model_dir(tmp_path, "one")
    _write(fs, root, local, "1")
    with pytest.raises(ConnectionError):
        _write(FailingAfter(uploads=1), root, local, "1")
    # the pointer's bundle is still complete and verifies
    fetch_bundle(fs, root, read_pointer(fs, root, "m"), tmp_path / "fetched")


def test_pointer_is_replaced_atomically_on_local_disk(tmp_path: Path) -> None:
    fs, root = open_store(str(tmp_path / "store"))
    _write(fs, root, _model_dir(tmp_path, "one"), "1")
    _write(fs, root, _model_dir(tmp_path, "two"), "2")
    leftovers = [p.name for p in (tmp_path / "store" / "m").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    assert read_pointer(fs, root, "m").version == "2"


def test_tampered_bundle_fails_its_checksum(tmp_path: Path) -> None:
    fs, root = open_store(str(tmp_path / "store"))
    _write(fs, root, _model_dir(tmp_path, "one"), "1")
    (tmp_path / "store" / "m" / "versions" / "1" / "model.pkl").write_text("tampered")
    with pytest.raises(BundleError, match=r"model\.pkl of m v1 fails its checksum"):
        fetch_bundle(fs, root, read_pointer(fs, root, "m"), tmp_path / "fetched")


def _pointer_version(fs: Any, root: str, alias: str) -> str | None:
    path = f"{root}/m/{alias}.json"
    if not fs.exists(path):
        return None
    return str(ModelPointer.model_validate_json(fs.cat_file(path)).version)


def test_replaced_champion_becomes_previous_and_rollback_clears_it(tmp_path: Path) -> None:
    fs, root = open_store(str(tmp_path / "store"))
    _write(fs, root, _model_dir(tmp_path, "one"), "1")
    assert _pointer_version(fs, root, "previous") is None
    _write(fs, root, _model_dir(tmp_path, "two"), "2")
    assert (_pointer_version(fs, root, "champion"), _pointer_version(fs, root, "previous")) == (
        "2",
        "1",
    )
    _write(fs, root, _model_dir(tmp_path, "two"), "2")  # republishing the champion changes nothing
    assert _pointer_version(fs, root, "previous") == "1"
    write_bundle(
        fs,
        root,
        local_dir=_model_dir(tmp_path, "one"),
        name="m",
        version="1",
        source_uri="models:/m/1",
        keep_previous=False,
    )
    assert (_pointer_version(fs, root, "champion"), _pointer_version(fs, root, "previous")) == (
        "1",
        None,
    )


def _published(tmp_path: Path) -> tuple[Any, str, ModelPointer]:
    fs, root = open_store(str(tmp_path / "store"))
    _write(fs, root, _model_dir(tmp_path, "one"), "1")
    return fs, root, read_pointer(fs, root, "m")


def test_a_whole_bundle_has_no_problem(tmp_path: Path) -> None:
    fs, root, pointer = _published(tmp_path)
    sizes = {"MLmodel": len("MLmodel one"), "sub/requirements.txt": len("sub/requirements.txt one")}
    assert set(pointer.files) == {"MLmodel", "model.pkl", "sub/requirements.txt"}
    assert bundle_problem(fs, root, pointer, sizes=sizes, deep=True) is None


def test_bundle_problems_are_named(tmp_path: Path) -> None:
    fs, root, pointer = _published(tmp_path)
    base = f"{root}/{pointer.bundle_path}"
    tampered = pointer.model_copy(update={"checksum": "0" * 64})
    assert bundle_problem(fs, root, tampered) == (
        "the pointer's checksum does not match its file digests"
    )
    wrong = {"MLmodel": 3}
    assert bundle_problem(fs, root, pointer, sizes=wrong) == (
        "bundle file MLmodel has 11 bytes, expected 3"
    )
    assert bundle_problem(fs, root, pointer, sizes={"elsewhere": 3}) is None
    # the same size, other bytes: only the deep check reads them
    fs.pipe_file(f"{base}/sub/requirements.txt", b"sub/requirements.txt two")
    assert bundle_problem(fs, root, pointer) is None
    assert bundle_problem(fs, root, pointer, deep=True) == (
        "bundle file sub/requirements.txt fails its checksum"
    )
    fs.rm_file(f"{base}/model.pkl")
    assert bundle_problem(fs, root, pointer) == "bundle file model.pkl is missing"
    fs.rm(base, recursive=True)
    assert bundle_problem(fs, root, pointer) == "bundle file MLmodel is missing"


def test_alias_pointers(tmp_path: Path) -> None:
    fs, root, pointer = _published(tmp_path)
    assert read_alias_pointer(fs, root, "m", "champion") == pointer
    assert read_alias_pointer(fs, root, "m", "previous") is None
    write_pointer(fs, root, "m", "previous", pointer)
    assert read_alias_pointer(fs, root, "m", "previous") == pointer
    assert fs.exists(f"{root}/m/previous.json")
    fs.pipe_file(f"{root}/m/previous.json", b"{not json")
    with pytest.raises(BundleError) as caught:
        read_alias_pointer(fs, root, "m", "previous")
    assert str(caught.value).startswith(
        f"pointer {root}/m/previous.json is not a valid model pointer: "
    )
    remove_pointer(fs, root, "m", "previous")
    assert read_alias_pointer(fs, root, "m", "previous") is None
    remove_pointer(fs, root, "m", "previous")  # removing an absent pointer is no error


class _StoreOnly(MemoryFileSystem):  # type: ignore[misc]
    """An in-memory store registered under the given protocol(s)."""

    cachable = False

    def __init__(self, protocol: str | tuple[str, ...]) -> None:
        super().__init__()
        self.protocol = protocol


@pytest.mark.parametrize(
    ("protocol", "local"),
    [
        (("file", "local"), True),
        (("file",), True),
        (("local",), True),
        ("file", True),
        ("memory", False),
        (("s3", "s3a"), False),
    ],
)
def test_which_stores_are_local_disks(protocol: str | tuple[str, ...], local: bool) -> None:
    assert is_local_filesystem(_StoreOnly(protocol)) is local


def test_an_object_store_pointer_is_one_write(tmp_path: Path) -> None:
    fs = _StoreOnly("memory")
    fs.pipe_file("/bucket/m/versions/1/MLmodel", b"x")
    pointer = make_pointer(
        name="m", version="1", files={"MLmodel": "0" * 64}, source_uri="models:/m/1"
    )
    write_pointer(fs, "/bucket", "m", "champion", pointer)
    assert fs.ls("/bucket/m", detail=False) == ["/bucket/m/champion.json", "/bucket/m/versions"]
    assert read_pointer(fs, "/bucket", "m") == pointer


def test_open_store_passes_options_and_drops_the_trailing_slash(tmp_path: Path) -> None:
    fs, root = open_store(f"{tmp_path}/store/", {"auto_mkdir": True})
    assert root == f"{tmp_path}/store"
    assert fs.auto_mkdir is True


def test_the_pointer_carries_the_run_metrics_and_tags(tmp_path: Path) -> None:
    fs, root = open_store(str(tmp_path / "store"))
    write_bundle(
        fs,
        root,
        local_dir=_model_dir(tmp_path),
        name="m",
        version="3",
        source_uri="models:/m/3",
        run_id="run-1",
        metrics={"roc_auc": 0.9},
        tags={"git": "abc"},
    )
    pointer = read_pointer(fs, root, "m")
    assert (pointer.run_id, pointer.metrics, pointer.tags) == (
        "run-1",
        {"roc_auc": 0.9},
        {"git": "abc"},
    )


def test_fetch_bundle_errors_and_destinations(tmp_path: Path) -> None:
    fs, root, pointer = _published(tmp_path)
    nested = tmp_path / "a" / "b"
    assert fetch_bundle(fs, root, pointer, nested) == nested
    assert fetch_bundle(fs, root, pointer, nested) == nested  # again, into the same directory
    assert (nested / "sub" / "requirements.txt").read_text() == "sub/requirements.txt one"
    inconsistent = pointer.model_copy(update={"checksum": "0" * 64})
    with pytest.raises(BundleError) as caught:
        fetch_bundle(fs, root, inconsistent, tmp_path / "x")
    assert str(caught.value) == "pointer checksum of m v1 is inconsistent"
    base = f"{root}/{pointer.bundle_path}"
    fs.pipe_file(f"{base}/MLmodel", b"changed")
    actual = hashlib.sha256(b"changed").hexdigest()
    with pytest.raises(BundleError) as caught:
        fetch_bundle(fs, root, pointer, tmp_path / "y")
    assert str(caught.value) == (
        f"bundle file MLmodel of m v1 fails its checksum "
        f"(expected {pointer.files['MLmodel'][:12]}…, got {actual[:12]}…)"
    )
    fs.rm_file(f"{base}/MLmodel")
    with pytest.raises(BundleError) as caught:
        fetch_bundle(fs, root, pointer, tmp_path / "z")
    assert str(caught.value) == f"bundle file missing: {base}/MLmodel"


def test_pointer_and_bundle_errors_say_which(tmp_path: Path) -> None:
    fs, root = open_store(str(tmp_path / "store"))
    with pytest.raises(BundleError) as caught:
        read_pointer(fs, root, "m")
    assert str(caught.value) == f"no published model 'm': {root}/m/champion.json does not exist"
    fs.makedirs(f"{root}/m")
    fs.pipe_file(f"{root}/m/champion.json", b"[]")
    with pytest.raises(BundleError) as caught:
        read_pointer(fs, root, "m")
    assert str(caught.value).startswith(f"pointer {root}/m/champion.json is not a valid model ")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BundleError) as caught:
        _write(fs, root, empty, "2")
    assert str(caught.value) == f"model directory {empty} is empty"


class _Forbidden(LocalFileSystem):  # type: ignore[misc]
    cachable = False

    def rm(self, path: str, recursive: bool = False, maxdepth: int | None = None) -> None:
        raise PermissionError(path)


def test_removing_a_pointer_tolerates_store_errors(tmp_path: Path) -> None:
    remove_pointer(_Forbidden(), str(tmp_path), "m", "previous")


def test_nested_and_empty_files_round_trip(tmp_path: Path) -> None:
    local = _model_dir(tmp_path)
    (local / "sub" / "deeper").mkdir()
    (local / "sub" / "deeper" / "weights.bin").write_bytes(b"w")
    (local / "empty.txt").write_bytes(b"")
    fs, root = open_store(str(tmp_path / "store"))
    _write(fs, root, local, "1")
    pointer = read_pointer(fs, root, "m")
    sizes = {"empty.txt": 0, "sub/deeper/weights.bin": 1}
    assert bundle_problem(fs, root, pointer, sizes=sizes, deep=True) is None
    fetched = fetch_bundle(fs, root, pointer, tmp_path / "fetched")
    assert (fetched / "sub" / "deeper" / "weights.bin").read_bytes() == b"w"
    assert (fetched / "empty.txt").read_bytes() == b""


def test_a_pointer_can_be_the_first_file_of_a_store(tmp_path: Path) -> None:
    fs, _, pointer = _published(tmp_path)
    fresh = str(tmp_path / "fresh")
    fs.makedirs(fresh)
    write_pointer(fs, fresh, "other", "champion", pointer)
    assert read_pointer(fs, fresh, "other") == pointer


def test_an_azure_store_root_has_no_trailing_slash() -> None:
    """adlfs keeps the trailing '/' of ``az://container/prefix/``; pointer paths are joined to
    the root, so it must go (no request is made: the filesystem connects lazily)."""
    fs, root = open_store("az://container/prefix/", {"account_name": "devstoreaccount1"})
    assert root == "container/prefix"
    assert not is_local_filesystem(fs)


class _UnlistedPrefix(MemoryFileSystem):  # type: ignore[misc]
    """An object store that answers a listing of a missing prefix with FileNotFoundError."""

    cachable = False

    def find(self, path: str, *args: Any, **kwargs: Any) -> Any:
        if not self.exists(path):
            raise FileNotFoundError(path)
        return super().find(path, *args, **kwargs)


def test_a_bundle_whose_prefix_cannot_be_listed_is_missing() -> None:
    pointer = make_pointer(
        name="m", version="1", files={"MLmodel": "0" * 64}, source_uri="models:/m/1"
    )
    assert bundle_problem(_UnlistedPrefix(), "/store", pointer) == "bundle file MLmodel is missing"
