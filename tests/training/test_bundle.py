"""The publishing side of ``training/bundle.py``: all-or-nothing per store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fsspec.implementations.local import LocalFileSystem

from training.bundle import (
    BundleError,
    ModelPointer,
    bundle_problem,
    fetch_bundle,
    open_store,
    read_alias_pointer,
    read_pointer,
    remove_pointer,
    write_bundle,
    write_pointer,
)


class FailingAfter(LocalFileSystem):  # type: ignore[misc]
    """A local store whose connection drops after ``uploads`` files (a mid-upload failure)."""

    def __init__(self, uploads: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.remaining = uploads

    def put_file(self, lpath: str, rpath: str, **kwargs: Any) -> None:
        if self.remaining == 0:
            raise ConnectionError("connection reset by peer")
        self.remaining -= 1
        super().put_file(lpath, rpath, **kwargs)


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
