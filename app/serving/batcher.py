"""Micro-batching: concurrent requests are coalesced into one ``predict`` call.

Requests queue up while a batch is being predicted; the next batch takes everything that is
waiting (up to ``max_batch_size`` rows, all validated against the same model). A request that
arrives alone is predicted at once: ``max_batch_wait_ms`` only applies when others are already
waiting, to let a forming batch fill. The queue is bounded: when it is full a request is refused
at once (the caller answers 503), and each request waits at most ``request_timeout_s``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core.metrics import Metrics
from app.model.loaded import LoadedModel, Prediction

logger = logging.getLogger("stratus.batcher")


class OverloadedError(RuntimeError):
    """The queue is full."""


class RequestTimeoutError(RuntimeError):
    """The request waited longer than the per-request timeout."""


class BatcherStoppedError(RuntimeError):
    """The service is shutting down."""


@dataclass(frozen=True)
class BatchResult:
    model: LoadedModel
    labels: NDArray[Any]
    probabilities: NDArray[np.float64] | None


class _Pending:
    __slots__ = ("deadline", "features", "future", "model")

    def __init__(
        self,
        model: LoadedModel,
        features: NDArray[np.float64],
        future: asyncio.Future[BatchResult],
        deadline: float,
    ) -> None:
        self.model = model
        self.features = features
        self.future = future
        self.deadline = deadline


class MicroBatcher:
    def __init__(
        self,
        metrics: Metrics,
        *,
        max_batch_size: int,
        max_wait_ms: float,
        max_queue: int,
        timeout_s: float,
        use_thread: bool,
    ) -> None:
        self._metrics = metrics
        self._max_batch = max_batch_size
        self._max_wait = max_wait_ms / 1000.0
        self._max_queue = max_queue
        self._timeout = timeout_s
        self._queue: deque[_Pending] = deque()
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, "stratus-predict") if use_thread else None
        self._task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._inflight: list[_Pending] = []
        self._stopping = False
        self.batches = 0

    @property
    def depth(self) -> int:
        return len(self._queue)

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name="stratus-batcher")
        self._watchdog = loop.create_task(self._expire(), name="stratus-timeouts")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def submit(
        self, model: LoadedModel, features: NDArray[np.float64], deadline: float | None = None
    ) -> BatchResult:
        """Queue ``features`` for ``model``; answered by ``deadline`` (event-loop time; default
        ``timeout_s`` from now) or failed with :class:`RequestTimeoutError`."""
        if self._stopping:
            raise BatcherStoppedError("the service is shutting down")
        if len(self._queue) >= self._max_queue:
            self._metrics.rejected.labels("queue_full").inc()
            raise OverloadedError(
                f"{len(self._queue)} requests are queued (limit {self._max_queue})"
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[BatchResult] = loop.create_future()
        if deadline is None:
            deadline = loop.time() + self._timeout
        elif deadline <= loop.time():
            self._metrics.rejected.labels("timeout").inc()
            raise RequestTimeoutError(f"no answer within {self._timeout:g}s")
        self._queue.append(_Pending(model, features, future, deadline))
        self._metrics.queue_depth.set(len(self._queue))
        self._wakeup.set()
        return await future

    async def _expire(self) -> None:
        """Fail requests past their deadline (one sweeper instead of a timer per request)."""
        period = min(self._timeout / 4, 0.05)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            for pending in (*self._inflight, *self._queue):
                if pending.deadline <= now and not pending.future.done():
                    self._metrics.rejected.labels("timeout").inc()
                    pending.future.set_exception(
                        RequestTimeoutError(f"no answer within {self._timeout:g}s")
                    )

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                if self._max_wait and len(self._queue) > 1:
                    await self._fill()
                batch = self._take()
                if batch:
                    await self._predict(batch)
            if self._stopping:
                return

    async def _fill(self) -> None:
        """Several requests are waiting: give the batch up to max_wait to fill."""
        deadline = asyncio.get_running_loop().time() + self._max_wait
        while self._rows_waiting() < self._max_batch:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._wakeup.wait()
            except TimeoutError:
                return

    def _rows_waiting(self) -> int:
        return sum(p.features.shape[0] for p in self._queue)

    def _take(self) -> list[_Pending]:
        batch: list[_Pending] = []
        rows = 0
        model = None
        queue = self._queue
        while queue:
            head = queue[0]
            if head.future.done():  # timed out while waiting
                queue.popleft()
                continue
            if model is None:
                model = head.model
            elif head.model is not model or rows + head.features.shape[0] > self._max_batch:
                break
            queue.popleft()
            batch.append(head)
            rows += head.features.shape[0]
        self._metrics.queue_depth.set(len(queue))
        return batch

    async def _predict(self, batch: list[_Pending]) -> None:
        model = batch[0].model
        if len(batch) == 1:
            features = batch[0].features
        else:
            features = np.concatenate([p.features for p in batch])
        self._metrics.batch_size.observe(features.shape[0])
        self._metrics.batch_requests.observe(len(batch))
        self.batches += 1
        self._inflight = batch
        try:
            if self._executor is None:
                prediction = model.predict(features)
            else:
                loop = asyncio.get_running_loop()
                prediction = await loop.run_in_executor(self._executor, model.predict, features)
        except Exception as exc:
            self._inflight = []
            self._fail_batch(batch, exc)
            return
        self._inflight = []
        _distribute(batch, model, prediction)

    def _fail_batch(self, batch: list[_Pending], exc: Exception) -> None:
        """One bad request must not fail the others: retry them one by one."""
        if len(batch) == 1:
            logger.warning("the model raised on a request: %s", exc)
            if not batch[0].future.done():
                batch[0].future.set_exception(PredictFailedError(str(exc)))
            return
        for pending in batch:
            if pending.future.done():
                continue
            try:
                prediction = pending.model.predict(pending.features)
            except Exception as single:
                logger.warning("the model raised on a request: %s", single)
                pending.future.set_exception(PredictFailedError(str(single)))
            else:
                _distribute([pending], pending.model, prediction)


class PredictFailedError(RuntimeError):
    """The model raised on a validated batch."""


def _distribute(batch: list[_Pending], model: LoadedModel, prediction: Prediction) -> None:
    start = 0
    probabilities = prediction.probabilities
    for pending in batch:
        end = start + pending.features.shape[0]
        if not pending.future.done():
            pending.future.set_result(
                BatchResult(
                    model,
                    prediction.labels[start:end],
                    None if probabilities is None else probabilities[start:end],
                )
            )
        start = end
