from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.core.metrics import Metrics
from app.model.loaded import LoadedModel, ModelIdentity, Prediction, load_model_dir
from app.serving.batcher import (
    BatcherStoppedError,
    MicroBatcher,
    OverloadedError,
    PredictFailedError,
    RequestTimeoutError,
)
from tests.app.conftest import Trained, boundary_rows, save_model_dir, train


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    trained = train("forest", width=5)
    path = save_model_dir(trained, tmp_path_factory.mktemp("m") / "model")
    return load_model_dir(path, ModelIdentity("m", "1", str(path)))


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    return train("forest", width=5).frame.to_numpy()[:40]


def batcher(metrics: Metrics | None = None, **overrides: Any) -> MicroBatcher:
    options: dict[str, Any] = {
        "max_batch_size": 256,
        "max_wait_ms": 0,
        "max_queue": 1024,
        "timeout_s": 5.0,
        "use_thread": False,
    }
    options.update(overrides)
    return MicroBatcher(metrics or Metrics(), **options)


def behind_a_busy_model(
    scorer: Any,
    blocker: np.ndarray,
    queued: list[tuple[np.ndarray, float | None]],
    metrics: Metrics | None = None,
    **options: Any,
) -> list[Any]:
    """Submit ``blocker`` (the model is then busy with it), and while it is, the ``queued``
    requests: their rows and a deadline in seconds from now (None: the batcher's timeout).
    Each queued request's result, or its error."""

    async def scenario() -> list[Any]:
        b = batcher(metrics, **{"use_thread": True, **options})
        b.start()
        busy = asyncio.ensure_future(b.submit(scorer, blocker))
        await asyncio.sleep(0.1)  # the blocker is being predicted: the next ones queue up
        loop = asyncio.get_running_loop()
        requests = [
            b.submit(scorer, rows, deadline=None if after is None else loop.time() + after)
            for rows, after in queued
        ]
        results = await asyncio.wait_for(
            asyncio.gather(*requests, return_exceptions=True), timeout=30
        )
        await busy
        await b.stop()
        return list(results)

    return asyncio.run(scenario())


@pytest.mark.parametrize("use_thread", [False, True])
def test_concurrent_requests_are_coalesced_and_answer_like_single_calls(
    model: LoadedModel, rows: np.ndarray, use_thread: bool
) -> None:
    async def scenario() -> tuple[list[Any], int]:
        b = batcher(use_thread=use_thread)
        b.start()
        results = await asyncio.gather(*(b.submit(model, rows[i : i + 1]) for i in range(40)))
        await b.stop()
        return results, b.batches

    results, batches = asyncio.run(scenario())
    assert batches < 40  # coalesced
    for i, result in enumerate(results):
        assert result.model is model  # the answer names the model that scored it
        alone = model.predict(rows[i : i + 1])
        np.testing.assert_array_equal(result.labels, alone.labels)
        np.testing.assert_array_equal(result.probabilities, alone.probabilities)


def test_a_lone_request_does_not_wait_for_a_batch(model: LoadedModel, rows: np.ndarray) -> None:
    async def scenario() -> int:
        b = batcher(max_wait_ms=1000)
        b.start()
        await b.submit(model, rows[:1])  # would take 1 s if it waited for the batch to fill
        await b.stop()
        return b.batches

    started = time.monotonic()
    assert asyncio.run(scenario()) == 1
    assert time.monotonic() - started < 0.9


def test_max_batch_size_splits_batches(model: LoadedModel, rows: np.ndarray) -> None:
    async def scenario() -> int:
        b = batcher(max_batch_size=4)
        b.start()
        await asyncio.gather(*(b.submit(model, rows[i : i + 1]) for i in range(20)))
        await b.stop()
        return b.batches

    assert asyncio.run(scenario()) >= 5


class SlowModel:
    """Wraps a model so that predicting takes a while (to fill the queue)."""

    def __init__(self, inner: LoadedModel, seconds: float) -> None:
        self.inner = inner
        self.seconds = seconds

    def predict(self, features: np.ndarray) -> Any:
        time.sleep(self.seconds)
        return self.inner.predict(features)


def test_a_full_queue_refuses_at_once(model: LoadedModel, rows: np.ndarray) -> None:
    slow: Any = SlowModel(model, 0.3)
    metrics = Metrics()

    async def scenario() -> tuple[list[Any], float]:
        b = batcher(metrics, max_queue=2, use_thread=True)
        b.start()
        first = asyncio.ensure_future(b.submit(slow, rows[:1]))
        await asyncio.sleep(0.05)  # the first batch is being predicted
        queued = [asyncio.ensure_future(b.submit(slow, rows[:1])) for _ in range(2)]
        await asyncio.sleep(0)
        started = time.monotonic()
        with pytest.raises(OverloadedError, match=r"^2 requests are queued \(limit 2\)$"):
            await b.submit(slow, rows[:1])
        refused_after = time.monotonic() - started
        results = await asyncio.gather(first, *queued)
        await b.stop()
        return results, refused_after

    results, refused_after = asyncio.run(scenario())
    assert refused_after < 0.05
    assert len(results) == 3
    assert metrics.rejected.labels("queue_full")._value.get() == 1


def test_requests_time_out(model: LoadedModel, rows: np.ndarray) -> None:
    slow: Any = SlowModel(model, 0.6)

    async def scenario() -> None:
        b = batcher(timeout_s=0.2, use_thread=True)
        b.start()
        await asyncio.sleep(0.15)  # the timeout sweeper has looked before anything was queued
        with pytest.raises(RequestTimeoutError, match=r"^no answer within 0.2s$"):
            await b.submit(slow, rows[:1])
        await b.stop()

    asyncio.run(scenario())


class PickyModel:
    """Raises when a batch contains a negative first feature (a model refusing one input)."""

    def __init__(self, inner: LoadedModel) -> None:
        self.inner = inner

    def predict(self, features: np.ndarray) -> Any:
        if (features[:, 0] < -1e6).any():
            raise ValueError("value out of range")
        return self.inner.predict(features)


def test_one_bad_request_does_not_fail_its_batch(model: LoadedModel, rows: np.ndarray) -> None:
    picky: Any = PickyModel(model)
    bad = rows[:1].copy()
    bad[0, 0] = -1e9

    async def scenario() -> list[Any]:
        b = batcher()
        b.start()
        results = await asyncio.gather(
            b.submit(picky, rows[:1]),
            b.submit(picky, bad),
            b.submit(picky, rows[1:2]),
            return_exceptions=True,
        )
        await b.stop()
        return list(results)

    good, failed, other = asyncio.run(scenario())
    assert isinstance(failed, PredictFailedError)
    assert not isinstance(good, Exception)
    assert not isinstance(other, Exception)


def test_model_load_keeps_the_signature(tmp_path: Path) -> None:
    trained: Trained = train("logistic", width=3)
    path = save_model_dir(trained, tmp_path / "m")
    loaded = load_model_dir(path, ModelIdentity("m", "1", str(path)))
    assert loaded.schema.names == ("feature 0", "feature 1", "feature 2")
    assert loaded.classes == [0, 1]
    assert not loaded.needs_dataframe


@pytest.mark.parametrize("kind", ["logistic", "forest"])
def test_labels_from_probabilities_equal_predict(tmp_path: Path, kind: str) -> None:
    trained = train(kind, width=5, seed=4)
    path = save_model_dir(trained, tmp_path / "m")
    loaded = load_model_dir(path, ModelIdentity("m", "1", str(path)))
    assert loaded.labels_from_probabilities
    features = np.random.default_rng(0).normal(size=(500, 5)) * 3
    fast = loaded.predict(features)
    np.testing.assert_array_equal(fast.labels, trained.pipeline.predict(features))
    np.testing.assert_array_equal(fast.probabilities, trained.pipeline.predict_proba(features))


def test_forests_skip_joblib_with_identical_answers(tmp_path: Path) -> None:
    trained = train("forest", width=5, seed=7)
    path = save_model_dir(trained, tmp_path / "m")
    loaded = load_model_dir(path, ModelIdentity("m", "1", str(path)))
    assert loaded._direct_proba is not None
    features = np.random.default_rng(1).normal(size=(300, 5)) * 2
    fast = loaded.predict(features)
    np.testing.assert_array_equal(fast.probabilities, trained.pipeline.predict_proba(features))
    np.testing.assert_array_equal(fast.labels, trained.pipeline.predict(features))


def test_a_request_timing_out_in_flight_leaves_the_others_their_own_rows(
    model: LoadedModel, rows: np.ndarray
) -> None:
    slow: Any = SlowModel(model, 1.0)
    metrics = Metrics()

    first, middle, last = behind_a_busy_model(
        slow,
        rows[:1],
        # the middle one is predicted from ~1 s to ~2 s with the others: times out in flight
        [(rows[1:3], None), (rows[3:6], 1.5), (rows[6:7], None)],
        metrics,
        timeout_s=30,
    )
    assert isinstance(middle, RequestTimeoutError)
    assert str(middle) == "no answer within 30s"
    assert metrics.rejected.labels("timeout")._value.get() == 1
    # the three were one batch: the middle one was in flight when it timed out
    assert metrics.batch_requests._sum.get() == 1 + 3
    for result, own in ((first, rows[1:3]), (last, rows[6:7])):
        alone = model.predict(own)
        np.testing.assert_array_equal(result.labels, alone.labels)
        np.testing.assert_array_equal(result.probabilities, alone.probabilities)


def test_batched_answers_equal_unbatched_ones_as_documented(tmp_path: Path) -> None:
    """Labels identical to scoring each row alone, and equal to the model's own ``predict`` on
    that row; probabilities equal up to float rounding (BLAS kernels differ by batch size)."""
    trained = train("logistic", width=6, seed=0)
    path = save_model_dir(trained, tmp_path / "m")
    loaded = load_model_dir(path, ModelIdentity("m", "1", str(path)))
    generator = np.random.default_rng(3)
    features = np.concatenate([generator.normal(size=(120, 6)) * 2, boundary_rows(trained, 20)])

    async def scenario() -> tuple[list[Any], int]:
        b = batcher(max_wait_ms=5)
        b.start()
        results = await asyncio.gather(
            *(b.submit(loaded, features[i : i + 1]) for i in range(len(features)))
        )
        await b.stop()
        return list(results), b.batches

    results, batches = asyncio.run(scenario())
    assert batches < len(features) / 4  # really batched
    for i, result in enumerate(results):
        alone = loaded.predict(features[i : i + 1])
        np.testing.assert_array_equal(result.labels, alone.labels)
        np.testing.assert_array_equal(result.labels, trained.pipeline.predict(features[i : i + 1]))
        np.testing.assert_allclose(result.probabilities, alone.probabilities, rtol=0, atol=1e-12)


class SlowPickyModel(PickyModel):
    """Picky, and slow when it predicts the blocker row (so the next requests queue up)."""

    def __init__(self, inner: LoadedModel, blocker: np.ndarray) -> None:
        super().__init__(inner)
        self.blocker = blocker

    def predict(self, features: np.ndarray) -> Any:
        if features.shape[0] == 1 and (features == self.blocker).all():
            time.sleep(0.5)
        return super().predict(features)


@pytest.mark.parametrize("queued", [2, 3])
def test_a_failing_batch_is_retried_request_by_request(
    model: LoadedModel, rows: np.ndarray, caplog: pytest.LogCaptureFixture, queued: int
) -> None:
    """The model raises on a batch of queued requests: the second is the bad one, the others
    still get their own rows, and the one warning names the model's error."""
    picky: Any = SlowPickyModel(model, rows[:1])
    bad = rows[1:3].copy()
    bad[1, 0] = -1e9
    mine = [rows[3:5], bad, rows[5:6]][:queued]
    metrics = Metrics()

    with caplog.at_level(logging.WARNING, logger="stratus.batcher"):
        results = behind_a_busy_model(picky, rows[:1], [(f, None) for f in mine], metrics)
    assert metrics.batch_requests._sum.get() == 1 + queued  # the queued ones were one batch
    failed = results.pop(1)
    assert isinstance(failed, PredictFailedError)
    assert str(failed) == "value out of range"
    for result, own in zip(results, [mine[0], *mine[2:]], strict=True):
        assert result.model is picky  # a retried request's answer names its model too
        alone = model.predict(own)
        np.testing.assert_array_equal(result.labels, alone.labels)
        np.testing.assert_array_equal(result.probabilities, alone.probabilities)
    warnings = [r.getMessage() for r in caplog.records if r.name == "stratus.batcher"]
    assert warnings == ["the model raised on a request: value out of range"]


def test_a_lone_failing_request_gets_the_models_error(
    model: LoadedModel, rows: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    picky: Any = PickyModel(model)
    bad = rows[:1].copy()
    bad[0, 0] = -1e9

    async def scenario() -> Any:
        b = batcher()
        b.start()
        try:
            return await b.submit(picky, bad)
        except PredictFailedError as exc:
            return exc
        finally:
            await b.stop()

    with caplog.at_level(logging.WARNING, logger="stratus.batcher"):
        failed = asyncio.run(scenario())
    assert isinstance(failed, PredictFailedError)
    assert str(failed) == "value out of range"
    warnings = [r.getMessage() for r in caplog.records if r.name == "stratus.batcher"]
    assert warnings == ["the model raised on a request: value out of range"]


class RecordingModel:
    """Records the rows of every predict call; the first call (the blocker) takes a while, so
    that the next requests queue up behind it."""

    def __init__(self, inner: LoadedModel, first_call_s: float = 0.3) -> None:
        self.inner = inner
        self.first_call_s = first_call_s
        self.batch_rows: list[int] = []

    def predict(self, features: np.ndarray) -> Any:
        if not self.batch_rows:
            time.sleep(self.first_call_s)
        self.batch_rows.append(features.shape[0])
        return self.inner.predict(features)


def test_a_forming_batch_waits_up_to_max_wait_for_late_requests(
    model: LoadedModel, rows: np.ndarray
) -> None:
    """Two requests wait behind a busy model; a third arrives while their batch is forming
    (within max_wait, the batch still short of max_batch_size rows): all three are one batch."""
    recording: Any = RecordingModel(model)
    metrics = Metrics()

    async def scenario() -> list[Any]:
        b = batcher(metrics, max_wait_ms=900, max_batch_size=4, use_thread=True)
        b.start()
        busy = asyncio.ensure_future(b.submit(recording, rows[:1]))
        await asyncio.sleep(0.1)  # the blocker is being predicted
        waiting = [asyncio.ensure_future(b.submit(recording, rows[i : i + 1])) for i in (1, 2)]
        await busy  # the two waiting requests' batch starts forming now (for at most 0.9 s)
        await asyncio.sleep(0.15)
        late = asyncio.ensure_future(b.submit(recording, rows[3:4]))
        results = await asyncio.gather(*waiting, late)
        await b.stop()
        return list(results)

    results = asyncio.run(scenario())
    assert recording.batch_rows == [1, 3]  # 3 rows of 5 features each: short of 4 rows
    assert metrics.batch_size._sum.get() == 1 + 3  # rows per batch
    assert metrics.batch_requests._sum.get() == 1 + 3  # requests per batch
    for result, i in zip(results, (1, 2, 3), strict=True):
        assert result.model is recording
        np.testing.assert_array_equal(result.labels, model.predict(rows[i : i + 1]).labels)


def test_a_full_batch_does_not_wait_for_max_wait(model: LoadedModel, rows: np.ndarray) -> None:
    """Requests that fill max_batch_size rows go at once, however long max_wait is."""
    recording: Any = RecordingModel(model)

    async def scenario() -> list[Any]:
        b = batcher(max_wait_ms=60_000, max_batch_size=3, use_thread=True)
        b.start()
        busy = asyncio.ensure_future(b.submit(recording, rows[:1]))
        await asyncio.sleep(0.1)
        waiting = [b.submit(recording, rows[i : i + 1]) for i in (1, 2, 3)]
        # far less than max_wait: a batch that waited for it would fail here
        results = await asyncio.wait_for(asyncio.gather(busy, *waiting), timeout=10)
        await b.stop()
        return list(results)

    assert len(asyncio.run(scenario())) == 4
    assert recording.batch_rows == [1, 3]


class SlowRefusingModel(PickyModel):
    """Slow on a batch of several requests, and refusing it (one row is out of range): the
    retry predicts each request alone, at once."""

    def predict(self, features: np.ndarray) -> Any:
        if features.shape[0] > 2:
            time.sleep(1.0)
        return super().predict(features)


def test_a_failed_batch_retries_every_request_after_one_that_timed_out_in_flight(
    model: LoadedModel, rows: np.ndarray
) -> None:
    """The first request of a failing batch times out while the batch is predicted: the retry
    skips it and still answers each request after it."""
    refusing: Any = SlowRefusingModel(model)
    bad = rows[4:5].copy()
    bad[0, 0] = -1e9

    timed_out, failed, good = behind_a_busy_model(
        refusing,
        rows[:3],  # slow: the others queue up
        [(rows[5:6], 1.5), (bad, None), (rows[6:7], None)],  # the first times out in flight
        timeout_s=30,
    )
    assert isinstance(timed_out, RequestTimeoutError)
    assert isinstance(failed, PredictFailedError)
    assert good.model is refusing
    np.testing.assert_array_equal(good.labels, model.predict(rows[6:7]).labels)


class ThreadRecordingModel:
    """Records the thread each predict call runs in."""

    def __init__(self, inner: LoadedModel) -> None:
        self.inner = inner
        self.threads: list[threading.Thread] = []

    def predict(self, features: np.ndarray) -> Any:
        self.threads.append(threading.current_thread())
        return self.inner.predict(features)


@pytest.mark.parametrize("use_thread", [False, True])
def test_the_batcher_runs_named_tasks_and_stops_them_all(
    model: LoadedModel, rows: np.ndarray, use_thread: bool
) -> None:
    """Its tasks (and with ``use_thread`` its one predict thread) carry names a debugger or a
    thread dump shows; ``stop`` leaves none of them running, and refuses later requests."""
    recording: Any = ThreadRecordingModel(model)

    async def scenario() -> tuple[set[str], set[str], bool, bool]:
        b = batcher(use_thread=use_thread)
        assert not b.alive
        b.start()
        assert b.alive
        await asyncio.gather(*(b.submit(recording, rows[i : i + 1]) for i in range(3)))
        names = {task.get_name() for task in asyncio.all_tasks()}
        tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith("stratus-")]
        await b.stop()
        await asyncio.sleep(0)  # a cancelled task ends at its next step
        left = {t.get_name() for t in tasks if not t.done()}
        with pytest.raises(BatcherStoppedError, match=r"^the service is shutting down$"):
            await b.submit(recording, rows[:1])
        threads_alive = any(t.is_alive() for t in recording.threads if t is not main)
        return names, left, b.alive, threads_alive

    main = threading.main_thread()
    names, left, alive, threads_alive = asyncio.run(scenario())
    assert {"stratus-batcher", "stratus-timeouts"} <= names
    assert left == set()
    assert not alive
    assert not threads_alive  # stop waited for the predict thread
    if use_thread:
        assert {t.name.split("_")[0] for t in recording.threads} == {"stratus-predict"}
    else:  # predicted on the event loop's own thread
        assert set(recording.threads) == {main}


def test_stopping_a_batcher_that_never_started_is_a_no_op() -> None:
    async def scenario() -> bool:
        b = batcher(use_thread=True)
        await b.stop()
        return b.alive

    assert asyncio.run(scenario()) is False


def test_a_deadline_already_past_is_refused_and_counted(
    model: LoadedModel, rows: np.ndarray
) -> None:
    metrics = Metrics()

    async def scenario() -> int:
        b = batcher(metrics)
        b.start()
        loop = asyncio.get_running_loop()
        with pytest.raises(RequestTimeoutError, match=r"^no answer within 5s$"):
            await b.submit(model, rows[:1], deadline=loop.time() - 0.01)
        await b.stop()
        return b.batches

    assert asyncio.run(scenario()) == 0  # never predicted
    assert metrics.rejected.labels("timeout")._value.get() == 1


class LabelsOnlyModel:
    """A model without class probabilities (a regressor, or a classifier without them)."""

    def __init__(self, inner: LoadedModel) -> None:
        self.inner = inner

    def predict(self, features: np.ndarray) -> Prediction:
        return Prediction(labels=self.inner.predict(features).labels, probabilities=None)


def test_a_model_without_probabilities_answers_each_request_its_labels(
    model: LoadedModel, rows: np.ndarray
) -> None:
    labels_only: Any = LabelsOnlyModel(model)

    async def scenario() -> list[Any]:
        b = batcher()
        b.start()
        results = await asyncio.gather(*(b.submit(labels_only, rows[i : i + 2]) for i in (0, 2)))
        await b.stop()
        return list(results)

    for result, i in zip(asyncio.run(scenario()), (0, 2), strict=True):
        assert result.probabilities is None
        np.testing.assert_array_equal(result.labels, model.predict(rows[i : i + 2]).labels)


def test_a_request_that_timed_out_in_the_queue_is_dropped_and_the_next_ones_answered(
    model: LoadedModel, rows: np.ndarray
) -> None:
    recording: Any = RecordingModel(model, first_call_s=0.8)

    before, expired, after = behind_a_busy_model(
        recording,
        rows[:1],
        [(rows[1:2], None), (rows[2:3], 0.3), (rows[3:5], None)],  # the middle expires queued
        timeout_s=30,
    )
    assert isinstance(expired, RequestTimeoutError)
    np.testing.assert_array_equal(before.labels, model.predict(rows[1:2]).labels)
    np.testing.assert_array_equal(after.labels, model.predict(rows[3:5]).labels)
    # one batch of the requests around it; the expired one was never predicted
    assert recording.batch_rows == [1, 3]


def test_timeouts_still_fire_after_batches_that_succeeded_or_failed(
    model: LoadedModel, rows: np.ndarray
) -> None:
    """The one timeout sweeper outlives every kind of batch before it."""
    picky: Any = PickyModel(model)
    slow: Any = SlowModel(model, 0.8)
    bad = rows[:1].copy()
    bad[0, 0] = -1e9

    async def scenario() -> None:
        b = batcher(timeout_s=0.3, use_thread=True)
        b.start()
        await b.submit(picky, rows[:1])  # a batch that succeeds
        await asyncio.sleep(0.1)  # the sweeper looks
        with pytest.raises(PredictFailedError):
            await b.submit(picky, bad)  # a batch that fails
        await asyncio.sleep(0.1)
        with pytest.raises(RequestTimeoutError):
            await b.submit(slow, rows[:1])
        await b.stop()

    asyncio.run(scenario())
