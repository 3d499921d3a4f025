"""Hot swap, failed loads and rollback, driven through the admin API of an in-process app."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from app.model.loaded import LoadedModel, ModelIdentity
from app.model.source import ModelSource
from tests.app.conftest import (
    ADMIN_KEY,
    MODEL_NAME,
    Trained,
    auth,
    publish,
    serve,
    settings_for,
    train,
)

V1 = train(seed=1)
V2 = train(seed=1, flip=True)  # same features, opposite answers


def _version(client: TestClient, trained: Trained) -> str:
    answer = client.post("/predict", json={"instances": trained.rows(1)}, headers=auth())
    assert answer.status_code == 200, answer.text
    return str(answer.json()["model"]["version"])


def _metric(client: TestClient, line_start: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_watcher_swaps_in_a_new_champion(tmp_path: Path) -> None:
    publish(str(tmp_path), V1, "1")
    with serve(settings_for(f"{tmp_path}/{MODEL_NAME}", watch_interval_s=0.2)) as client:
        assert _version(client, V1) == "1"
        publish(str(tmp_path), V2, "2")
        deadline = time.monotonic() + 20
        while _version(client, V1) != "2":
            assert time.monotonic() < deadline, "the watcher did not swap in v2"
            time.sleep(0.1)
        answer = client.post("/predict", json={"instances": V1.rows(20)}, headers=auth()).json()
        assert answer["predictions"] == V2.pipeline.predict(V2.frame.head(20)).tolist()
        assert _metric(client, "stratus_model_swaps_total") == 1
        assert 'stratus_model_info{name="stratus-classifier",source=' in client.get("/metrics").text


def test_failed_loads_keep_the_served_model(tmp_path: Path) -> None:
    publish(str(tmp_path), V1, "1")
    with serve(settings_for(f"{tmp_path}/{MODEL_NAME}")) as client:
        publish(str(tmp_path), V2, "2")
        corrupt = next((tmp_path / MODEL_NAME / "versions" / "2").rglob("model.pkl"))
        corrupt.write_bytes(b"not a model")
        answer = client.post("/admin/reload", headers=auth(ADMIN_KEY))
        assert answer.status_code == 409
        assert "checksum" in answer.json()["error"]
        assert _version(client, V1) == "1"
        assert _metric(client, 'stratus_model_load_failures_total{reason="ModelLoadError"}') == 1
        status = client.get("/admin/model", headers=auth(ADMIN_KEY)).json()
        assert status["model"]["version"] == "1"
        assert "checksum" in status["last_error"]

        shutil.rmtree(tmp_path / MODEL_NAME / "versions" / "2")
        assert client.post("/admin/reload", headers=auth(ADMIN_KEY)).status_code == 409
        assert _version(client, V1) == "1"


def test_a_signature_change_needs_permission(tmp_path: Path) -> None:
    wider = train(width=7, seed=2)
    publish(str(tmp_path), V1, "1")
    with serve(settings_for(f"{tmp_path}/{MODEL_NAME}")) as client:
        publish(str(tmp_path), wider, "2")
        answer = client.post("/admin/reload", headers=auth(ADMIN_KEY))
        assert answer.status_code == 409
        assert "STRATUS_ALLOW_SIGNATURE_CHANGE" in answer.json()["error"]
        assert (
            _metric(client, 'stratus_model_load_failures_total{reason="SignatureChangedError"}')
            == 1
        )
        assert _version(client, V1) == "1"
    with serve(settings_for(f"{tmp_path}/{MODEL_NAME}", allow_signature_change=True)) as client:
        assert _version(client, wider) == "2"


def test_rollback_pins_until_the_champion_moves(tmp_path: Path) -> None:
    store = tmp_path
    publish(str(store), V1, "1")
    with serve(settings_for(f"{store}/{MODEL_NAME}")) as client:
        publish(str(store), V2, "2")  # the publisher keeps the replaced v1 as previous.json
        reload = client.post("/admin/reload", headers=auth(ADMIN_KEY)).json()
        assert reload["outcome"] == "loaded"
        assert reload["model"]["version"] == "2"
        assert (
            client.post("/admin/reload", headers=auth(ADMIN_KEY)).json()["outcome"] == "unchanged"
        )

        rollback = client.post("/admin/rollback", headers=auth(ADMIN_KEY)).json()
        assert rollback["model"]["version"] == "1"
        assert _version(client, V1) == "1"
        status = client.get("/admin/model", headers=auth(ADMIN_KEY)).json()
        assert status["pinned"] is True
        assert status["following"] == "previous"

        manager = client.app.state.manager  # type: ignore[attr-defined]
        client.portal.call(manager.check_once)  # type: ignore[union-attr]
        assert _version(client, V1) == "1"  # champion still v2: stays rolled back

        publish(str(store), V1, "3")
        client.portal.call(manager.check_once)  # type: ignore[union-attr]
        assert _version(client, V1) == "3"
        assert client.get("/admin/model", headers=auth(ADMIN_KEY)).json()["pinned"] is False


def test_rollback_without_a_previous_version_changes_nothing(tmp_path: Path) -> None:
    publish(str(tmp_path), V1, "1")
    with serve(settings_for(f"{tmp_path}/{MODEL_NAME}")) as client:
        answer = client.post("/admin/rollback", headers=auth(ADMIN_KEY))
        assert answer.status_code == 409
        assert "previous.json" in answer.json()["error"]
        assert _version(client, V1) == "1"


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_the_watcher_survives_a_corrupt_version_and_swaps_in_the_next(tmp_path: Path) -> None:
    publish(str(tmp_path), V1, "1")
    with serve(settings_for(f"{tmp_path}/{MODEL_NAME}", watch_interval_s=0.1)) as client:
        publish(str(tmp_path), V2, "2")
        corrupt = next((tmp_path / MODEL_NAME / "versions" / "2").rglob("model.pkl"))
        corrupt.write_bytes(b"not a model")
        failures = 'stratus_model_load_failures_total{reason="ModelLoadError"}'
        _wait_for(lambda: _metric(client, failures) >= 1, "the watcher did not meet v2")
        assert _version(client, V1) == "1"

        publish(str(tmp_path), V1, "3")  # a good version after the corrupt one
        _wait_for(lambda: _version(client, V1) == "3", "the watcher did not swap in v3")
        manager = client.app.state.manager  # type: ignore[attr-defined]
        assert manager.status()["last_error"] is None
        assert not manager._watcher.done()


class SlowLoads:
    """A model source whose loads take ``seconds``: a watcher check that comes during a rollback
    is then certain to queue behind it."""

    def __init__(self, inner: ModelSource, seconds: float) -> None:
        self.inner = inner
        self.seconds = seconds
        self.name = inner.name
        self.alias = inner.alias
        self.description = inner.description

    def resolve(self, alias: str) -> ModelIdentity:
        return self.inner.resolve(alias)

    def load(self, identity: ModelIdentity, cache_dir: Path | None) -> LoadedModel:
        time.sleep(self.seconds)
        return self.inner.load(identity, cache_dir)


def test_a_watcher_check_during_a_rollback_does_not_undo_it(tmp_path: Path) -> None:
    publish(str(tmp_path), V1, "1")
    with serve(settings_for(f"{tmp_path}/{MODEL_NAME}", watch_interval_s=0.05)) as client:
        publish(str(tmp_path), V2, "2")
        _wait_for(lambda: _version(client, V1) == "2", "the watcher did not swap in v2")
        manager = client.app.state.manager  # type: ignore[attr-defined]
        manager.source = SlowLoads(manager.source, 0.5)

        rollback = client.post("/admin/rollback", headers=auth(ADMIN_KEY))
        assert rollback.status_code == 200
        assert rollback.json()["model"]["version"] == "1"
        time.sleep(1.5)  # thirty watch intervals, each a chance to follow the champion back

        status = client.get("/admin/model", headers=auth(ADMIN_KEY)).json()
        assert status["pinned"] is True
        assert status["model"]["version"] == "1"
        assert _version(client, V1) == "1"
