"""``python -m training sync-stores``: mirror a model's bundles and pointers between stores,
checksum-verified and all-or-nothing — on local directories, and between a real moto S3 server and
a real Azurite Blob server in both directions."""

from __future__ import annotations

import posixpath
import uuid
from pathlib import Path

import boto3
import fsspec
import pytest
from fsspec import AbstractFileSystem

import training.sync
from tests.conftest import BlobEndpoint, S3Endpoint
from tests.training.conftest import invoke
from tests.training.stores import FailingAfter
from training.bundle import fetch_bundle, open_store, read_pointer, write_bundle
from training.sync import SyncError, SyncTargetError, sync_stores

NAME = "m"


def _model_dir(tmp_path: Path, content: str) -> Path:
    directory = tmp_path / f"model-{content}-{uuid.uuid4().hex[:6]}"
    (directory / "sub").mkdir(parents=True)
    for name in ("MLmodel", "model.pkl", "sub/requirements.txt"):
        (directory / name).write_text(f"{name} {content}")
    return directory


def _publish(store: str, tmp_path: Path, *versions: str, name: str = NAME) -> None:
    """Publish each version in turn, as training does (the last is champion, the one before it
    previous)."""
    fs, root = open_store(store)
    for version in versions:
        write_bundle(
            fs,
            root,
            local_dir=_model_dir(tmp_path, version),
            name=name,
            version=version,
            source_uri=f"models:/{name}/{version}",
        )


def _snapshot(store: str) -> dict[str, bytes]:
    """Every object of a store and its bytes."""
    fs, root = open_store(store)
    if not fs.exists(root):
        return {}
    return {path: bytes(fs.cat_file(path)) for path in fs.find(root)}


def _corrupt(store: str, version: str, name: str = NAME) -> None:
    fs, root = open_store(store)
    fs.pipe_file(posixpath.join(root, name, "versions", version, "model.pkl"), b"tampered")


def _assert_mirrored(source: str, target: str, tmp_path: Path, name: str = NAME) -> None:
    src_fs, src_root = open_store(source)
    dst_fs, dst_root = open_store(target)
    for file in ("champion.json", "previous.json"):
        src = posixpath.join(src_root, name, file)
        dst = posixpath.join(dst_root, name, file)
        assert src_fs.exists(src) == dst_fs.exists(dst), file
        if src_fs.exists(src):
            assert src_fs.cat_file(src) == dst_fs.cat_file(dst), file
    pointer = read_pointer(dst_fs, dst_root, name)
    fetch_bundle(dst_fs, dst_root, pointer, tmp_path / f"check-{uuid.uuid4().hex[:6]}")


# --- local stores ------------------------------------------------------------------------------


def test_mirrors_champion_and_previous_byte_for_byte(tmp_path: Path) -> None:
    source, target = str(tmp_path / "a"), str(tmp_path / "b")
    _publish(source, tmp_path, "1", "2")
    result = sync_stores(NAME, source, target)
    assert (result.champion, result.previous) == ("2", "1")
    assert sorted(result.copied) == ["1", "2"]
    _assert_mirrored(source, target, tmp_path)
    again = sync_stores(NAME, source, target)
    assert (again.copied, sorted(again.present), again.pointers_unchanged) == ([], ["1", "2"], True)
    assert "already in sync" in again.summary()


def test_a_target_that_missed_publishes_catches_up(tmp_path: Path) -> None:
    source, target = str(tmp_path / "a"), str(tmp_path / "b")
    _publish(source, tmp_path, "1")
    sync_stores(NAME, source, target)
    _publish(source, tmp_path, "2", "3")  # published while the target's cloud was down
    result = sync_stores(NAME, source, target)
    assert (result.champion, result.previous, sorted(result.copied)) == ("3", "2", ["2", "3"])
    _assert_mirrored(source, target, tmp_path)


def test_a_source_without_previous_removes_the_targets(tmp_path: Path) -> None:
    source, target = str(tmp_path / "a"), str(tmp_path / "b")
    _publish(source, tmp_path, "1", "2")
    sync_stores(NAME, source, target)
    (tmp_path / "a" / NAME / "previous.json").unlink()  # as after a rollback
    assert sync_stores(NAME, source, target).previous is None
    assert not (tmp_path / "b" / NAME / "previous.json").exists()


def test_a_corrupted_source_is_refused_and_the_target_is_unchanged(tmp_path: Path) -> None:
    source, target = str(tmp_path / "a"), str(tmp_path / "b")
    _publish(source, tmp_path, "1")
    sync_stores(NAME, source, target)
    _publish(source, tmp_path, "2")
    _corrupt(source, "2")
    before = _snapshot(target)
    with pytest.raises(SyncError) as failure:
        sync_stores(NAME, source, target)
    assert failure.value.exit_code == 1
    assert "refused: the source" in str(failure.value)
    assert "model.pkl of m v2 fails its checksum" in str(failure.value)
    assert _snapshot(target) == before


def test_a_missing_or_foreign_pointer_is_refused(tmp_path: Path) -> None:
    source, target = str(tmp_path / "a"), str(tmp_path / "b")
    with pytest.raises(SyncError, match="no published model 'm'"):
        sync_stores(NAME, source, target)
    _publish(source, tmp_path, "1", name="other")
    (tmp_path / "a" / "other").rename(tmp_path / "a" / NAME)
    with pytest.raises(SyncError, match="names model 'other', not 'm'"):
        sync_stores(NAME, source, target)
    with pytest.raises(SyncError, match="the same store"):
        sync_stores(NAME, source, source + "/")
    assert _snapshot(target) == {}


def test_a_damaged_target_copy_is_repaired(tmp_path: Path) -> None:
    source, target = str(tmp_path / "a"), str(tmp_path / "b")
    _publish(source, tmp_path, "1")
    sync_stores(NAME, source, target)
    _corrupt(target, "1")
    result = sync_stores(NAME, source, target)
    assert result.copied == ["1"]
    _assert_mirrored(source, target, tmp_path)


def test_a_target_failure_mid_upload_leaves_the_target_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = str(tmp_path / "a"), str(tmp_path / "b")
    _publish(source, tmp_path, "1")
    sync_stores(NAME, source, target)
    _publish(source, tmp_path, "2")
    before = _snapshot(target)
    real_open = training.sync.open_store

    def open_failing(url: str) -> tuple[AbstractFileSystem, str]:
        fs, root = real_open(url)
        return (FailingAfter(uploads=2), root) if url == target else (fs, root)

    monkeypatch.setattr(training.sync, "open_store", open_failing)
    with pytest.raises(SyncTargetError) as failure:
        sync_stores(NAME, source, target)
    assert failure.value.exit_code == 4
    assert "its pointers are unchanged: ConnectionError" in str(failure.value)
    assert _snapshot(target) == before


# --- moto S3 <-> Azurite, through the command --------------------------------------------------


@pytest.fixture
def clouds(
    s3_server: S3Endpoint, azurite: BlobEndpoint, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    """An S3 models store and a Blob models store, both reachable from this process."""
    for key, value in {**s3_server.env(), **azurite.env()}.items():
        monkeypatch.setenv(key, value)
    bucket = f"models-{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    container = f"models-{uuid.uuid4().hex[:8]}"
    fsspec.filesystem("az").mkdir(container)
    return f"s3://{bucket}/published", f"az://{container}/published"


@pytest.mark.slow
def test_sync_stores_between_s3_and_blob_in_both_directions(
    clouds: tuple[str, str], tmp_path: Path
) -> None:
    s3_store, blob_store = clouds
    _publish(s3_store, tmp_path, "1", "2")
    result = invoke(["sync-stores", NAME, "--from", s3_store, "--to", blob_store])
    assert result.exit_code == 0, result.output
    assert f"m: mirrored {s3_store} -> {blob_store} (champion v2, previous v1)" in result.output
    _assert_mirrored(s3_store, blob_store, tmp_path)

    _publish(blob_store, tmp_path, "3")  # the other way round: Blob got a newer champion
    result = invoke(["sync-stores", NAME, "--from", blob_store, "--to", s3_store])
    assert result.exit_code == 0, result.output
    _assert_mirrored(blob_store, s3_store, tmp_path)
    assert read_pointer(*open_store(s3_store), NAME).version == "3"


@pytest.mark.slow
def test_a_corrupted_cloud_source_is_refused_and_the_other_cloud_unchanged(
    clouds: tuple[str, str], tmp_path: Path
) -> None:
    s3_store, blob_store = clouds
    _publish(s3_store, tmp_path, "1")
    assert invoke(["sync-stores", NAME, "--from", s3_store, "--to", blob_store]).exit_code == 0
    _publish(s3_store, tmp_path, "2")
    _corrupt(s3_store, "2")
    before = _snapshot(blob_store)
    result = invoke(["sync-stores", NAME, "--from", s3_store, "--to", blob_store])
    assert result.exit_code == 1
    assert "refused: the source" in result.output
    assert "fails its checksum" in result.output
    assert _snapshot(blob_store) == before
    assert read_pointer(*open_store(blob_store), NAME).version == "1"
