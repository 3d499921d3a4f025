"""The model manager driven directly (no app): its status, its metrics and log records, failed
loads, the rollback pin, and the watcher's pace. test_manager.py covers the same life cycle
through the admin API of a running app."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from prometheus_client import CollectorRegistry

from app.core.metrics import Metrics
from app.model.loaded import LoadedModel, ModelIdentity, ModelLoadError
from app.model.manager import ModelManager, SignatureChangedError
from app.model.source import StoreSource
from tests.app.conftest import MODEL_NAME, publish, train

V1 = train(seed=1)
V2 = train(seed=1, flip=True)
WIDER = train(width=7, seed=2)
FAILED_LOAD = "model load failed; still serving the previous model"
T = TypeVar("T")


class ScriptedSource:
    """A bundle-store source that records the cache directory of each load and fails the
    resolves of the aliases in ``failing`` and, when ``load_error`` is set, every load."""

    def __init__(self, store: Path) -> None:
        self.inner = StoreSource(str(store), MODEL_NAME, "champion")
        self.name = self.inner.name
        self.alias = self.inner.alias
        self.description = self.inner.description
        self.cache_dirs: list[Path | None] = []
        self.failing: dict[str, Exception] = {}
        self.load_error: Exception | None = None

    def resolve(self, alias: str) -> ModelIdentity:
        if alias in self.failing:
            raise self.failing[alias]
        return self.inner.resolve(alias)

    def load(self, identity: ModelIdentity, cache_dir: Path | None) -> LoadedModel:
        self.cache_dirs.append(cache_dir)
        if self.load_error is not None:
            raise self.load_error
        return self.inner.load(identity, cache_dir)


def _manager(
    store: Path,
    *,
    watch_interval_s: float = 0,
    allow_signature_change: bool = False,
    cache_dir: Path | None = None,
) -> tuple[ModelManager, ScriptedSource, Metrics]:
    source = ScriptedSource(store)
    metrics = Metrics(CollectorRegistry())
    manager = ModelManager(
        source,
        metrics,
        watch_interval_s=watch_interval_s,
        rollback_alias="previous",
        allow_signature_change=allow_signature_change,
        cache_dir=cache_dir,
    )
    return manager, source, metrics


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def _sample(metrics: Metrics, sample: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(sample, labels)


def _records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "stratus.model" and r.getMessage() == message]


def test_status_before_any_load(tmp_path: Path) -> None:
    manager, source, _ = _manager(tmp_path, watch_interval_s=7.5)
    assert manager.status() == {
        "ready": False,
        "model": None,
        "source": source.description,
        "following": "champion",
        "pinned": False,
        "watch_interval_s": 7.5,
        "last_check": None,
        "last_error": None,
    }


def test_a_failed_first_load_leaves_the_service_unready(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manager, _, metrics = _manager(tmp_path)  # nothing published
    caplog.set_level(logging.INFO, logger="stratus.model")
    before = time.time()
    _run(manager.load_initial())  # logged and counted, not raised
    status = manager.status()
    assert status["ready"] is False
    assert status["model"] is None
    assert before <= status["last_check"] <= time.time()
    error = f"ModelLoadError: no pointer {MODEL_NAME}/champion.json in {tmp_path}"
    assert status["last_error"] == error
    assert _sample(metrics, "stratus_model_load_failures_total", reason="ModelLoadError") == 1
    (record,) = _records(caplog, FAILED_LOAD)
    assert record.levelno == logging.ERROR
    assert record.error == error  # type: ignore[attr-defined]
    assert record.serving_version is None  # type: ignore[attr-defined]


def test_an_unexpected_load_error_is_a_failed_load_that_keeps_the_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    publish(str(tmp_path), V1, "1")
    manager, source, metrics = _manager(tmp_path)
    _run(manager.refresh())
    publish(str(tmp_path), V2, "2")
    source.load_error = ValueError("disk on fire")
    caplog.set_level(logging.INFO, logger="stratus.model")
    with pytest.raises(ModelLoadError) as raised:
        _run(manager.refresh())
    assert str(raised.value) == "disk on fire"
    assert isinstance(raised.value.__cause__, ValueError)
    status = manager.status()
    assert status["model"]["version"] == "1"
    assert status["last_error"] == "ValueError: disk on fire"
    assert _sample(metrics, "stratus_model_load_failures_total", reason="ValueError") == 1
    (record,) = _records(caplog, FAILED_LOAD)
    assert record.error == "ValueError: disk on fire"  # type: ignore[attr-defined]
    assert record.serving_version == "1"  # type: ignore[attr-defined]


def test_loads_and_swaps_are_counted_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    publish(str(tmp_path), V1, "1")
    manager, _, metrics = _manager(tmp_path)
    caplog.set_level(logging.INFO, logger="stratus.model")

    first = _run(manager.refresh())
    assert first.outcome == "loaded"
    v1_source = first.model.identity.source
    assert _sample(metrics, "stratus_model_loads_total", version="1") == 1
    assert _sample(metrics, "stratus_model_swaps_total") == 0  # a first load swaps nothing out
    info = {"name": MODEL_NAME, "version": "1", "source": v1_source}
    assert _sample(metrics, "stratus_model_info", **info) == 1

    publish(str(tmp_path), V2, "2")
    second = _run(manager.refresh())
    assert second.outcome == "loaded"
    assert _sample(metrics, "stratus_model_loads_total", version="2") == 1
    assert _sample(metrics, "stratus_model_swaps_total") == 1
    info = {"name": MODEL_NAME, "version": "2", "source": second.model.identity.source}
    assert _sample(metrics, "stratus_model_info", **info) == 1
    assert (
        _sample(metrics, "stratus_model_info", name=MODEL_NAME, version="1", source=v1_source)
        is None
    )

    swaps = _records(caplog, "model swapped in")
    assert [(r.model, r.version, r.alias, r.previous_version) for r in swaps] == [  # type: ignore[attr-defined]
        (MODEL_NAME, "1", "champion", None),
        (MODEL_NAME, "2", "champion", "1"),
    ]
    assert all(r.levelno == logging.INFO for r in swaps)


def test_refresh_loads_again_only_when_forced(tmp_path: Path) -> None:
    publish(str(tmp_path), V1, "1")
    manager, _, metrics = _manager(tmp_path)
    loaded = _run(manager.refresh())
    again = _run(manager.refresh())
    assert again.outcome == "unchanged"
    assert again.model is loaded.model
    forced = _run(manager.refresh(force=True))
    assert forced.outcome == "loaded"
    assert forced.model is not loaded.model
    assert _sample(metrics, "stratus_model_loads_total", version="1") == 2


def test_loads_use_the_configured_cache_dir(tmp_path: Path) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    cache.mkdir()
    publish(str(store), V1, "1")
    manager, source, _ = _manager(store, cache_dir=cache)
    _run(manager.refresh())
    assert source.cache_dirs == [cache]


def test_a_signature_change_is_refused_with_the_setting_that_allows_it(tmp_path: Path) -> None:
    publish(str(tmp_path), V1, "1")
    manager, _, metrics = _manager(tmp_path)
    _run(manager.refresh())
    publish(str(tmp_path), WIDER, "2")
    with pytest.raises(SignatureChangedError) as raised:
        _run(manager.refresh())
    assert str(raised.value) == (
        f"{MODEL_NAME} v2 changes the input signature (6 → 7 features or types differ); "
        "set STRATUS_ALLOW_SIGNATURE_CHANGE=true to allow it"
    )
    assert manager.status()["model"]["version"] == "1"
    assert _sample(metrics, "stratus_model_load_failures_total", reason="SignatureChangedError")


def test_a_signature_change_is_swapped_in_when_allowed(tmp_path: Path) -> None:
    publish(str(tmp_path), V1, "1")
    manager, _, _ = _manager(tmp_path, allow_signature_change=True)
    _run(manager.refresh())
    publish(str(tmp_path), WIDER, "2")
    assert _run(manager.refresh()).outcome == "loaded"
    assert manager.status()["model"]["version"] == "2"


def test_reload_ends_a_rollback_pin(tmp_path: Path) -> None:
    publish(str(tmp_path), V1, "1")
    publish(str(tmp_path), V2, "2")  # v1 becomes previous
    manager, _, _ = _manager(tmp_path)
    _run(manager.refresh())
    _run(manager.rollback())
    assert (manager.status()["pinned"], manager.status()["following"]) == (True, "previous")
    result = _run(manager.reload())
    assert result.model.identity.version == "2"
    status = manager.status()
    assert (status["pinned"], status["following"]) == (False, "champion")


def test_a_rollback_while_the_champion_cannot_be_read(tmp_path: Path) -> None:
    """The rollback still happens; the watcher keeps it while the champion stays unreadable
    (counting each failure) and follows the champion once it reads it again."""
    publish(str(tmp_path), V1, "1")
    publish(str(tmp_path), V2, "2")
    manager, source, metrics = _manager(tmp_path)
    _run(manager.refresh())
    source.failing["champion"] = ModelLoadError("registry down")

    rollback = _run(manager.rollback())
    assert (rollback.outcome, rollback.model.identity.version) == ("loaded", "1")
    assert manager.status()["pinned"] is True

    _run(manager.check_once())
    status = manager.status()
    assert status["last_error"] == "ModelLoadError: registry down"
    assert (status["pinned"], status["model"]["version"]) == (True, "1")
    assert _sample(metrics, "stratus_model_load_failures_total", reason="ModelLoadError") == 1

    del source.failing["champion"]
    _run(manager.check_once())
    status = manager.status()
    assert (status["pinned"], status["model"]["version"]) == (False, "2")


def _watch_intervals(manager: ModelManager, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The first three sleeps of the manager's watcher (each made instant), and checks that the
    watcher runs as the task named ``stratus-watch``."""
    real_sleep = asyncio.sleep
    intervals: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        intervals.append(seconds)
        await real_sleep(0)

    async def scenario() -> None:
        manager.start_watching()
        assert "stratus-watch" in {task.get_name() for task in asyncio.all_tasks()}
        deadline = time.monotonic() + 10
        while len(intervals) < 3:
            assert time.monotonic() < deadline, f"the watcher slept only {intervals}"
            await real_sleep(0.01)
        await manager.stop()

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    _run(scenario())
    return intervals[:3]


def test_the_watcher_checks_at_the_configured_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(str(tmp_path), V1, "1")
    manager, _, _ = _manager(tmp_path, watch_interval_s=30)
    _run(manager.refresh())
    assert _watch_intervals(manager, monkeypatch) == [30, 30, 30]


def test_the_watcher_retries_within_five_seconds_while_no_model_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager, _, metrics = _manager(tmp_path, watch_interval_s=30)  # nothing published
    assert _watch_intervals(manager, monkeypatch) == [5.0, 5.0, 5.0]
    failures = _sample(metrics, "stratus_model_load_failures_total", reason="ModelLoadError")
    assert failures is not None
    assert failures >= 2


def test_the_watcher_keeps_a_shorter_interval_while_no_model_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager, _, _ = _manager(tmp_path, watch_interval_s=2)
    assert _watch_intervals(manager, monkeypatch) == [2, 2, 2]


def test_no_watcher_without_an_interval(tmp_path: Path) -> None:
    manager, _, _ = _manager(tmp_path, watch_interval_s=0)

    async def scenario() -> set[str]:
        manager.start_watching()
        names = {task.get_name() for task in asyncio.all_tasks()}
        await manager.stop()
        return names

    assert "stratus-watch" not in _run(scenario())
