"""Registry and stores agree — after a rollback, a kill before publishing, two runs at once, and
``reconcile`` — against a real ``mlflow server`` (the stores are local directories here; S3 and
Blob in ``test_remote_stores.py``)."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from tests.training.conftest import Hook, Killed, invoke, unique_name, write_config
from training.bundle import ModelPointer, fetch_bundle, open_store, read_pointer
from training.config import load_config
from training.errors import PublishError, StorageError
from training.publish import PointerChange, publish, sync_store
from training.runner import RunResult, run_pipeline

pytestmark = pytest.mark.slow


def _client(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _aliases(client: MlflowClient, name: str) -> dict[str, str]:
    return {alias: str(v) for alias, v in client.get_registered_model(name).aliases.items()}


def _pointers(store: Path, name: str) -> dict[str, str]:
    """``{alias: version}`` of the store's pointers for ``name``."""
    return {
        path.stem: ModelPointer.model_validate_json(path.read_bytes()).version
        for path in sorted((store / name).glob("*.json"))
    }


def _fast(name: str, stores: list[Path], **extra: Any) -> dict[str, Any]:
    return {
        "registry": {"model_name": name},
        "publish": {"stores": [str(s) for s in stores]},
        "model": {"search": {"kind": "none", "space": {}}},
        **extra,
    }


def _model_file(store: Path, name: str, version: str) -> Path:
    """The pickled model among ``version``'s bundle files in ``store``."""
    return next(p for p in (store / name / "versions" / version).rglob("*.pkl"))


def _truncate(path: Path) -> None:
    """Shorten the file by 10 bytes (a size the shallow check sees)."""
    path.write_bytes(path.read_bytes()[:-10])


def _flip_last_byte(path: Path) -> None:
    """Change the file in place, same size (only a checksum sees it)."""
    corrupted = bytearray(path.read_bytes())
    corrupted[-1] ^= 0xFF
    path.write_bytes(bytes(corrupted))


def _cli(args: list[str], uri: str) -> tuple[int, str]:
    result = invoke(args, env={"MLFLOW_TRACKING_URI": uri})
    return result.exit_code, result.output


def test_after_rollback_previous_json_is_gone_from_every_store(
    workspace: Path, mlflow_server: str
) -> None:
    name, stores = unique_name("rollback"), [workspace / "store-a", workspace / "store-b"]
    config = write_config(workspace, _fast(name, stores))
    for seed in ("1", "2"):
        code, output = _cli(["run", "--config", str(config), "--seed", seed], mlflow_server)
        assert code == 0, output
    for store in stores:
        assert _pointers(store, name) == {"champion": "2", "previous": "1"}
    code, output = _cli(["rollback", name, "--config", str(config)], mlflow_server)
    assert code == 0, output
    assert _aliases(_client(mlflow_server), name) == {"champion": "1"}
    for store in stores:
        assert _pointers(store, name) == {"champion": "1"}
        assert not (store / name / "previous.json").exists()
        assert _has_line(output, f"{store}: previous.json: removed (was v1)"), output


def test_promoting_the_champion_again_keeps_previous_and_rollback_still_restores_it(
    workspace: Path, mlflow_server: str
) -> None:
    name, store = unique_name("repromote"), workspace / "store"
    config = write_config(workspace, _fast(name, [store]))
    for seed in ("1", "2"):
        assert _cli(["run", "--config", str(config), "--seed", seed], mlflow_server)[0] == 0
    code, output = _cli(["promote", name, "2", "--config", str(config)], mlflow_server)
    assert code == 0, output
    assert "v2 is already the champion (aliases unchanged)" in output
    assert _aliases(_client(mlflow_server), name) == {"champion": "2", "previous": "1"}
    assert _pointers(store, name) == {"champion": "2", "previous": "1"}
    code, output = _cli(["rollback", name, "--config", str(config)], mlflow_server)
    assert code == 0, output
    assert f"{name}: champion → v1 (was v2)" in output
    assert _aliases(_client(mlflow_server), name) == {"champion": "1"}
    assert _pointers(store, name) == {"champion": "1"}


def test_promote_normalises_the_version(workspace: Path, mlflow_server: str) -> None:
    name, store = unique_name("normalise"), workspace / "store"
    config = write_config(workspace, _fast(name, [store]))
    for seed in ("1", "2"):
        assert _cli(["run", "--config", str(config), "--seed", seed], mlflow_server)[0] == 0
    code, output = _cli(["promote", name, "01", "--config", str(config)], mlflow_server)
    assert code == 0, output
    assert f"{name}: champion → v1, previous → v2" in output
    assert _aliases(_client(mlflow_server), name) == {"champion": "1", "previous": "2"}
    assert _pointers(store, name) == {"champion": "1", "previous": "2"}
    assert sorted(p.name for p in (store / name / "versions").iterdir()) == ["1", "2"]
    code, output = _cli(["promote", name, "one", "--config", str(config)], mlflow_server)
    assert code == 1
    assert "a model version is a positive number like 3, got 'one'" in output


def test_promote_and_rollback_take_the_store_and_tracking_flags_of_run(
    workspace: Path, mlflow_server: str
) -> None:
    """After ``run --store X --tracking-uri U``, ``promote``/``rollback`` with the same flags
    move X (no MLFLOW_TRACKING_URI in the environment, X not in the config)."""
    name, configured, flagged = unique_name("flags"), workspace / "configured", workspace / "x"
    config = write_config(workspace, _fast(name, [configured]))
    flags = ["--config", str(config), "--store", str(flagged), "--tracking-uri", mlflow_server]
    for seed in ("1", "2"):
        result = invoke(["run", *flags, "--seed", seed])
        assert result.exit_code == 0, result.output
    assert _pointers(flagged, name) == {"champion": "2", "previous": "1"}
    assert not configured.exists()
    result = invoke(["rollback", name, *flags])
    assert result.exit_code == 0, result.output
    assert _pointers(flagged, name) == {"champion": "1"}
    result = invoke(["promote", name, "2", *flags])
    assert result.exit_code == 0, result.output
    assert _pointers(flagged, name) == {"champion": "2", "previous": "1"}
    assert not configured.exists()
    result = invoke(["show", name, "--config", str(config), "--tracking-uri", mlflow_server])
    assert result.exit_code == 0, result.output


def test_after_a_kill_before_publishing_the_next_run_publishes_the_registry_previous(
    workspace: Path, mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run 2 moves the aliases and is killed before publishing; run 3's stores then say what the
    registry says (previous = v2), not what the store said before (v1)."""
    name, store = unique_name("killed"), workspace / "store"
    path = write_config(workspace, _fast(name, [store]))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    assert _cli(["run", "--config", str(path), "--seed", "1"], mlflow_server)[0] == 0
    with pytest.raises(Killed):
        run_pipeline(load_config(path), Hook("publish", kill=True))
    assert _aliases(_client(mlflow_server), name) == {"champion": "2", "previous": "1"}
    assert _pointers(store, name) == {"champion": "1"}  # the kill left the store behind
    code, output = _cli(["run", "--config", str(path), "--seed", "3"], mlflow_server)
    assert code == 0, output
    assert _aliases(_client(mlflow_server), name) == {"champion": "3", "previous": "2"}
    assert _pointers(store, name) == {"champion": "3", "previous": "2"}
    fs, root = open_store(str(store))
    previous = ModelPointer.model_validate_json(fs.cat_file(f"{root}/{name}/previous.json"))
    fetch_bundle(fs, root, previous, workspace / "previous")  # the bundle is there and verifies


def test_two_runs_at_once_take_turns(
    workspace: Path, mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run A is paused after moving the champion (holding the lock) while run B finishes
    training: B waits for the lock, gates against A's version, and the registry and every store
    end up agreeing (champion = B's version, previous = A's)."""
    name, stores = unique_name("concurrent"), [workspace / "store-a", workspace / "store-b"]
    path = write_config(workspace, _fast(name, stores))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    assert _cli(["run", "--config", str(path), "--seed", "1"], mlflow_server)[0] == 0
    outcomes: dict[str, RunResult | BaseException] = {}
    a, b = Hook("publish"), Hook()
    b_progress = threading.Event()

    def run(label: str, hook: Hook, seed: int) -> None:
        try:
            config = load_config(path, {"seed": seed})
            outcomes[label] = run_pipeline(config, hook)
        except BaseException as exc:
            outcomes[label] = exc
        finally:
            if label == "B":
                b_progress.set()

    first = threading.Thread(target=run, args=("A", a, 2))
    first.start()
    assert a.paused.wait(300), "run A never reached publish"
    assert _aliases(_client(mlflow_server), name) == {"champion": "2", "previous": "1"}
    second = threading.Thread(target=run, args=("B", b, 3))
    second.start()
    original_note = b.note

    def note(message: str) -> None:
        original_note(message)
        if b.waiting.is_set():
            b_progress.set()

    b.note = note  # type: ignore[method-assign]
    assert b_progress.wait(300)
    finished_first = "B" in outcomes
    a.resume.set()
    first.join(300)
    second.join(300)
    assert not finished_first, f"run B did not wait for run A: {outcomes.get('B')}"
    assert b.waiting.is_set()
    assert isinstance(outcomes["A"], RunResult), outcomes["A"]
    assert isinstance(outcomes["B"], RunResult), outcomes["B"]
    assert (outcomes["A"].version, outcomes["B"].version) == ("2", "3")
    assert "champion v2" in outcomes["B"].gate.summary
    assert _aliases(_client(mlflow_server), name) == {"champion": "3", "previous": "2"}
    for store in stores:
        assert _pointers(store, name) == {"champion": "3", "previous": "2"}


def test_a_kill_between_the_two_alias_moves_is_refused_then_repaired(
    workspace: Path, mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, store = unique_name("half-moved"), workspace / "store"
    path = write_config(workspace, _fast(name, [store]))
    client = _client(mlflow_server)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    assert _cli(["run", "--config", str(path), "--seed", "1"], mlflow_server)[0] == 0
    set_alias = MlflowClient.set_registered_model_alias

    def killed_before_the_champion_moves(self: Any, model: str, alias: str, version: Any) -> Any:
        if model == name and alias == "champion" and str(version) == "2":
            raise Killed("between the alias moves")
        return set_alias(self, model, alias, version)

    monkeypatch.setattr(
        MlflowClient, "set_registered_model_alias", killed_before_the_champion_moves
    )
    with pytest.raises(Killed):
        run_pipeline(load_config(path, {"seed": 2}), Hook())
    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", set_alias)
    assert _aliases(client, name) == {"champion": "1", "previous": "1"}

    code, output = _cli(["rollback", name, "--config", str(path)], mlflow_server)
    assert code == 1, output
    assert "an alias move was interrupted: champion v1 → v2, previous → v1" in output
    assert f"python -m training reconcile {name}" in output
    assert "rolled_back" not in client.get_model_version(name, "1").tags
    assert _aliases(client, name) == {"champion": "1", "previous": "1"}
    code, output = _cli(["run", "--config", str(path), "--seed", "3"], mlflow_server)
    assert code == 1, output  # refused before training
    assert "need repair before anything moves them" in output

    code, output = _cli(["reconcile", name, "--config", str(path)], mlflow_server)
    assert code == 0, output
    assert "registry: completed the interrupted alias move: champion v1 → v2" in output
    assert f"{store}: champion.json: v1 → v2, bundle uploaded" in output
    assert f"{store}: previous.json: absent → v1" in output
    assert _aliases(client, name) == {"champion": "2", "previous": "1"}
    assert _pointers(store, name) == {"champion": "2", "previous": "1"}
    code, output = _cli(["rollback", name, "--config", str(path)], mlflow_server)
    assert code == 0, output
    assert _aliases(client, name) == {"champion": "1"}


def test_previous_naming_the_champion_is_refused_then_repaired(
    workspace: Path, mlflow_server: str
) -> None:
    name, store = unique_name("same"), workspace / "store"
    path = write_config(workspace, _fast(name, [store]))
    client = _client(mlflow_server)
    assert _cli(["run", "--config", str(path)], mlflow_server)[0] == 0
    client.set_registered_model_alias(name, "previous", "1")  # by hand, or an older pipeline
    code, output = _cli(["rollback", name, "--config", str(path)], mlflow_server)
    assert code == 1, output
    assert "'previous' and 'champion' both name v1" in output
    code, output = _cli(["reconcile", name, "--config", str(path)], mlflow_server)
    assert code == 0, output
    assert "removed alias 'previous' (it named the champion v1 itself)" in output
    assert _aliases(client, name) == {"champion": "1"}


def test_reconcile_makes_every_store_match_the_registry_verified_by_checksum(
    workspace: Path, mlflow_server: str
) -> None:
    name, stores = unique_name("reconcile"), [workspace / "store-a", workspace / "store-b"]
    path = write_config(workspace, _fast(name, stores))
    for seed in ("1", "2"):
        assert _cli(["run", "--config", str(path), "--seed", seed], mlflow_server)[0] == 0
    a, b = stores
    # store a: champion.json turned back to v1; store b: previous.json lost, and a bundle file
    # of v2 corrupted in place (same size: only a checksum can tell)
    (a / name / "champion.json").write_bytes((a / name / "previous.json").read_bytes())
    (b / name / "previous.json").unlink()
    _flip_last_byte(_model_file(b, name, "2"))

    code, output = _cli(["reconcile", name, "--config", str(path)], mlflow_server)
    assert code == 0, output
    assert f"{name}: champion v2, previous v1" in output
    assert f"{a}: previous.json: v1 (unchanged, verified)" in output
    assert f"{a}: champion.json: v1 → v2" in output
    assert f"{b}: previous.json: absent → v1" in output
    assert f"{b}: champion.json: v2 → v2, bundle uploaded (bundle file " in output
    assert "fails its checksum" in output
    for store in stores:
        assert _pointers(store, name) == {"champion": "2", "previous": "1"}
        fs, root = open_store(str(store))
        fetch_bundle(fs, root, read_pointer(fs, root, name), workspace / f"check-{store.name}")

    code, output = _cli(["reconcile", name, "--config", str(path)], mlflow_server)
    assert code == 0, output
    for store in stores:
        assert f"{store}: champion.json: v2 (unchanged, verified)" in output
        assert f"{store}: previous.json: v1 (unchanged, verified)" in output
    code, output = _cli(["reconcile", "no-such-model", "--config", str(path)], mlflow_server)
    assert code == 1
    assert "no registered model named 'no-such-model'" in output


def test_reconcile_without_a_champion_changes_no_store(workspace: Path, mlflow_server: str) -> None:
    name, store = unique_name("no-champion"), workspace / "store"
    path = write_config(workspace, _fast(name, [store], gate={"min": {"roc_auc": 1.01}}))
    code, output = _cli(["run", "--config", str(path)], mlflow_server)
    assert code == 3, output
    code, output = _cli(["reconcile", name, "--config", str(path)], mlflow_server)
    assert code == 1, output
    assert f"the registry has no champion for {name}: nothing to publish" in output
    assert not store.exists()


def _has_line(output: str, line: str) -> bool:
    """``line`` is one whole line of the output (a substring would let a suffix through)."""
    return line in (text.strip() for text in output.splitlines())


def test_a_published_pointer_records_the_versions_run_metrics_and_tags_and_leaves_no_files(
    workspace: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``champion.json`` carries the registry version's lineage, and the downloads publishing
    made are gone afterwards (none left in the temporary directory or the working directory)."""
    name, store = unique_name("lineage"), workspace / "store"
    config = write_config(workspace, _fast(name, [store]))
    scratch = tmp_path_factory.mktemp("scratch")
    original_tempdir = tempfile.tempdir
    tempfile.tempdir = str(scratch)
    try:
        code, output = _cli(["run", "--config", str(config)], mlflow_server)
    finally:
        tempfile.tempdir = original_tempdir
    assert code == 0, output
    fs, root = open_store(str(store))
    pointer = read_pointer(fs, root, name)
    version = _client(mlflow_server).get_model_version(name, pointer.version)
    assert pointer.run_id == version.run_id
    metrics = {
        k.removeprefix("metric."): float(v)
        for k, v in version.tags.items()
        if k.startswith("metric.")
    }
    assert pointer.metrics == metrics
    assert "roc_auc" in pointer.metrics
    assert pointer.tags == {k: v for k, v in version.tags.items() if not k.startswith("metric.")}
    assert pointer.tags["validation_status"] == "accepted"
    assert not [p.name for p in scratch.iterdir() if "bundle" in p.name or p.name.startswith("tmp")]
    assert not (workspace / "None").exists()


def test_a_bundle_file_of_the_wrong_size_is_uploaded_again_when_publishing(
    workspace: Path, mlflow_server: str
) -> None:
    """Publishing checks each bundle file's size against the registry's copy (the shallow check
    of ``promote`` and ``rollback``): a truncated file is replaced, and the report says so."""
    name, store = unique_name("truncated"), workspace / "store"
    config = write_config(workspace, _fast(name, [store]))
    for seed in ("1", "2"):
        assert _cli(["run", "--config", str(config), "--seed", seed], mlflow_server)[0] == 0
    _truncate(_model_file(store, name, "1"))
    code, output = _cli(["rollback", name, "--config", str(config)], mlflow_server)
    assert code == 0, output
    assert _has_line(output, f"{store}: champion.json: v2 → v1, bundle uploaded"), output
    assert _pointers(store, name) == {"champion": "1"}
    fs, root = open_store(str(store))
    fetch_bundle(fs, root, read_pointer(fs, root, name), workspace / "check")


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (PointerChange("champion", "1", "1"), "champion.json: v1 (unchanged, verified)"),
        (PointerChange("previous", "1", None), "previous.json: removed (was v1)"),
        (
            PointerChange("previous", None, None, why="the old pointer was unreadable: x"),
            "previous.json: removed (the old pointer was unreadable: x)",
        ),
        (PointerChange("champion", "1", "2"), "champion.json: v1 → v2"),
        (
            PointerChange("champion", None, "2", uploaded=True),
            "champion.json: absent → v2, bundle uploaded",
        ),
        (
            PointerChange("champion", "2", "2", uploaded=True, why="its checksum differs"),
            "champion.json: v2 → v2, bundle uploaded (its checksum differs)",
        ),
        (
            PointerChange("previous", "2", "3", why="unreadable"),
            "previous.json: v2 → v3 (unreadable)",
        ),
    ],
)
def test_each_pointer_change_is_described_exactly(change: PointerChange, text: str) -> None:
    assert change.describe() == text


def test_a_store_whose_bucket_is_gone_is_named_by_its_setting_and_left_alone() -> None:
    """Each store is checked again when it is synced (a bucket can go between the run's start
    and its publish): the error names the setting, and nothing is read or written."""
    versions: Any = None  # never reached
    with pytest.raises(StorageError) as raised:
        sync_store("memory://no-such-bucket/models", name="m", desired={}, versions=versions)
    assert str(raised.value).startswith(
        "publish.stores: bucket 'no-such-bucket' does not exist (memory://no-such-bucket/models)"
    )


def test_reconcile_replaces_unreadable_and_tampered_pointers_and_says_why(
    workspace: Path, mlflow_server: str
) -> None:
    name, store = unique_name("tampered"), workspace / "store"
    path = write_config(workspace, _fast(name, [store]))
    assert _cli(["run", "--config", str(path)], mlflow_server)[0] == 0
    champion_json = store / name / "champion.json"

    champion_json.write_text("{not json")
    code, output = _cli(["reconcile", name, "--config", str(path)], mlflow_server)
    assert code == 0, output
    line = next(t.strip() for t in output.splitlines() if "champion.json: absent → v1 (" in t)
    assert line.startswith(f"{store}: champion.json: absent → v1 (the old pointer was unreadable: ")

    pointer = ModelPointer.model_validate_json(champion_json.read_bytes())
    champion_json.write_text(pointer.model_copy(update={"checksum": "0" * 64}).model_dump_json())
    code, output = _cli(["reconcile", name, "--config", str(path)], mlflow_server)
    assert code == 0, output
    why = "its checksum differs from the registry version's"
    assert _has_line(output, f"{store}: champion.json: v1 → v1 ({why})"), output
    assert ModelPointer.model_validate_json(champion_json.read_bytes()).checksum == pointer.checksum

    (store / name / "previous.json").write_text("{not json")  # the registry has no previous
    code, output = _cli(["reconcile", name, "--config", str(path)], mlflow_server)
    assert code == 0, output
    assert f"{store}: previous.json: removed (the old pointer was unreadable: " in output
    assert _pointers(store, name) == {"champion": "1"}


def test_the_served_bundle_of_the_wrong_size_is_uploaded_again_even_when_nothing_moves(
    workspace: Path, mlflow_server: str
) -> None:
    """Promoting the champion again re-checks its bundle (sizes, the shallow check)."""
    name, store = unique_name("resize"), workspace / "store"
    config = write_config(workspace, _fast(name, [store]))
    assert _cli(["run", "--config", str(config)], mlflow_server)[0] == 0
    _truncate(_model_file(store, name, "1"))
    code, output = _cli(["promote", name, "1", "--config", str(config)], mlflow_server)
    assert code == 0, output
    line = next(t.strip() for t in output.splitlines() if "champion.json:" in t)
    assert line.startswith(f"{store}: champion.json: v1 → v1, bundle uploaded (bundle file "), line
    fs, root = open_store(str(store))
    fetch_bundle(fs, root, read_pointer(fs, root, name), workspace / "check")


def test_publishing_again_returns_each_stores_champion_pointer(
    workspace: Path, mlflow_server: str
) -> None:
    """``publish`` (the Python API) returns the pointer each store serves, also when nothing
    changed."""
    name, store = unique_name("again"), workspace / "store"
    config = write_config(workspace, _fast(name, [store]))
    for seed in ("1", "2"):
        assert _cli(["run", "--config", str(config), "--seed", seed], mlflow_server)[0] == 0
    results = publish([str(store)], client=_client(mlflow_server), name=name)
    assert [change.describe() for change in results[0].changes] == [
        "previous.json: v1 (unchanged, verified)",
        "champion.json: v2 (unchanged, verified)",
    ]
    assert results[0].pointer is not None
    assert results[0].pointer.version == "2"
    # the aliases swapped by hand: both pointers rewritten, no bundle uploaded (both are there)
    client = _client(mlflow_server)
    client.set_registered_model_alias(name, "previous", "2")
    client.set_registered_model_alias(name, "champion", "1")
    results = publish([str(store)], client=client, name=name)
    assert [change.describe() for change in results[0].changes] == [
        "previous.json: v1 → v2",
        "champion.json: v2 → v1",
    ]
    assert [change.uploaded for change in results[0].changes] == [False, False]
    assert results[0].pointer is not None
    assert results[0].pointer.version == "1"
    # a bundle file changed in place (same size): only verify=True reads the checksums
    _flip_last_byte(_model_file(store, name, "1"))
    quick = publish([str(store)], client=client, name=name)
    assert quick[0].changes[1].describe() == "champion.json: v1 (unchanged, verified)"
    deep = publish([str(store)], client=client, name=name, verify=True)
    assert (
        deep[0]
        .changes[1]
        .describe()
        .startswith("champion.json: v1 → v1, bundle uploaded (bundle file ")
    )
    fs, root = open_store(str(store))
    fetch_bundle(fs, root, read_pointer(fs, root, name), workspace / "check")


def test_a_failing_store_is_reported_and_the_others_still_publish(
    workspace: Path, mlflow_server: str
) -> None:
    name, store = unique_name("one-fails"), workspace / "store"
    config = write_config(workspace, _fast(name, [store]))
    assert _cli(["run", "--config", str(config)], mlflow_server)[0] == 0
    (store / name / "champion.json").unlink()
    gone = "memory://no-such-bucket/models"
    with pytest.raises(PublishError) as failed:
        publish([gone, str(store)], client=_client(mlflow_server), name=name)
    assert str(failed.value) == (
        f"publishing {name} (champion v1) failed for 1 of 2 stores (a failed store keeps its "
        f"previous pointers; in sync: {store}; `python -m training reconcile {name}` retries):\n"
        f"  - {gone}: StorageError: publish.stores: bucket 'no-such-bucket' does not exist "
        f"({gone}); Stratus never creates buckets — check the name, or create it first"
    )
    bad, good = failed.value.results
    assert (bad.store, bad.pointer, bad.changes) == (gone, None, [])
    assert bad.error.startswith("StorageError: publish.stores: bucket 'no-such-bucket'")
    assert (good.store, good.error) == (str(store), None)
    assert good.pointer is not None
    assert good.pointer.version == "1"
    assert _pointers(store, name) == {"champion": "1"}  # the good store was repaired


def test_the_failure_report_lists_every_failed_store_and_every_store_in_sync(
    workspace: Path, mlflow_server: str
) -> None:
    name, first, second = unique_name("many-fail"), workspace / "one", workspace / "two"
    config = write_config(workspace, _fast(name, [first, second]))
    assert _cli(["run", "--config", str(config)], mlflow_server)[0] == 0
    client = _client(mlflow_server)
    gone = ["memory://no-such-bucket/models", "memory://nor-this-one/models"]
    with pytest.raises(PublishError) as some:
        publish([gone[0], str(first), gone[1], str(second)], client=client, name=name)
    head, *details = str(some.value).split("\n")
    assert head.endswith(
        f"failed for 2 of 4 stores (a failed store keeps its previous pointers; "
        f"in sync: {first}, {second}; `python -m training reconcile {name}` retries):"
    )
    assert [line.split(": ", 1)[0] for line in details] == [f"  - {gone[0]}", f"  - {gone[1]}"]
    with pytest.raises(PublishError) as every:
        publish(gone, client=client, name=name)
    assert (
        "failed for 2 of 2 stores (a failed store keeps its previous pointers; in sync: none;"
        in (str(every.value))
    )
