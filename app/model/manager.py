"""Model lifecycle: first load, background watcher, atomic hot swap, rollback.

A new version is loaded and warmed off the event loop, checked against the served contract,
then swapped in with one reference assignment, so in-flight batches finish on the model they
were validated against. A failed load never replaces the served model: it is logged, counted in
``stratus_model_load_failures_total`` and retried at the next check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from app.core.metrics import Metrics
from app.model.loaded import LoadedModel, ModelIdentity, ModelLoadError
from app.model.source import ModelSource

logger = logging.getLogger("stratus.model")

Outcome = Literal["loaded", "unchanged"]


class SignatureChangedError(ModelLoadError):
    """The new version takes different features and the config does not allow that."""


@dataclass(frozen=True)
class RefreshResult:
    outcome: Outcome
    model: LoadedModel


class ModelManager:
    def __init__(
        self,
        source: ModelSource,
        metrics: Metrics,
        *,
        watch_interval_s: float,
        rollback_alias: str,
        allow_signature_change: bool,
        cache_dir: Path | None,
    ) -> None:
        self.source = source
        self.metrics = metrics
        self.watch_interval_s = watch_interval_s
        self.rollback_alias = rollback_alias
        self.allow_signature_change = allow_signature_change
        self.cache_dir = cache_dir
        self.current: LoadedModel | None = None
        self.pinned_alias: str | None = None
        self._pinned_while: str | None = None  # champion version when the rollback happened
        self.last_error: str | None = None
        self.last_check: float | None = None
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self.current is not None

    async def refresh(self, alias: str | None = None, *, force: bool = False) -> RefreshResult:
        """Follow ``alias`` (the configured one by default); load and swap if it moved."""
        async with self._lock:
            return await self._refresh_locked(alias or self.source.alias, force=force)

    async def _refresh_locked(self, alias: str, *, force: bool = False) -> RefreshResult:
        """``refresh`` with ``_lock`` held by the caller."""
        self.last_check = time.time()
        try:
            identity = await asyncio.to_thread(self.source.resolve, alias)
            current = self.current
            if current is not None and not force and identity.version == current.identity.version:
                return RefreshResult("unchanged", current)
            model = await asyncio.to_thread(self.source.load, identity, self.cache_dir)
            self._check_contract(model)
        except ModelLoadError as exc:
            self._failed(exc)
            raise
        except Exception as exc:  # any other failure is a failed load too, never a crash
            self._failed(exc)
            raise ModelLoadError(str(exc)) from exc
        self._swap(model)
        return RefreshResult("loaded", model)

    def _check_contract(self, model: LoadedModel) -> None:
        current = self.current
        if (
            current is not None
            and not self.allow_signature_change
            and not current.schema.same_contract(model.schema)
        ):
            raise SignatureChangedError(
                f"{model.identity.name} v{model.identity.version} changes the input signature "
                f"({len(current.schema.names)} → {len(model.schema.names)} features or types "
                "differ); set STRATUS_ALLOW_SIGNATURE_CHANGE=true to allow it"
            )

    def _failed(self, exc: BaseException) -> None:
        reason = type(exc).__name__
        self.last_error = f"{reason}: {exc}"
        self.metrics.model_load_failures.labels(reason).inc()
        serving = self.current.identity.version if self.current else None
        logger.error(
            "model load failed; still serving the previous model",
            extra={"error": self.last_error, "serving_version": serving},
        )

    def _swap(self, model: LoadedModel) -> None:
        previous = self.current
        self.current = model
        self.last_error = None
        identity = model.identity
        self.metrics.model_loads.labels(identity.version).inc()
        if previous is not None:
            self.metrics.model_swaps.inc()
        self.metrics.set_model(identity.name, identity.version, identity.source)
        logger.info(
            "model swapped in",
            extra={
                "model": identity.name,
                "version": identity.version,
                "alias": identity.alias,
                "previous_version": previous.identity.version if previous else None,
            },
        )

    async def load_initial(self) -> None:
        """First load at start-up; a failure leaves the service unready (the watcher retries)."""
        with contextlib.suppress(ModelLoadError):
            await self.refresh()

    async def reload(self) -> RefreshResult:
        """Admin reload: follow the configured alias again (ends a rollback pin)."""
        async with self._lock:
            result = await self._refresh_locked(self.source.alias)
            self.pinned_alias = None
            self._pinned_while = None
            return result

    async def rollback(self) -> RefreshResult:
        """Serve the rollback alias and stay on it until the configured alias moves again.

        The swap and the pin happen under one hold of the lock, so a watcher check cannot slip
        in between and follow the configured alias back to the version just rolled away from.
        """
        async with self._lock:
            champion: ModelIdentity | None = None
            with contextlib.suppress(Exception):
                champion = await asyncio.to_thread(self.source.resolve, self.source.alias)
            result = await self._refresh_locked(self.rollback_alias)
            self.pinned_alias = self.rollback_alias
            self._pinned_while = champion.version if champion else None
            return result

    async def check_once(self) -> None:
        """One watcher step: follow the alias unless pinned by a rollback (the pin is read with
        the lock held: a rollback in progress finishes, pin included, before this looks)."""
        async with self._lock:
            if self.pinned_alias is not None:
                try:
                    identity = await asyncio.to_thread(self.source.resolve, self.source.alias)
                except Exception as exc:
                    self._failed(exc)
                    return
                if identity.version == self._pinned_while:
                    return
                self.pinned_alias = None
                self._pinned_while = None
            await self._refresh_locked(self.source.alias)

    async def _watch(self) -> None:
        while True:
            interval = (
                self.watch_interval_s
                if self.current is not None
                else min(self.watch_interval_s, 5.0)
            )
            await asyncio.sleep(interval)
            with contextlib.suppress(ModelLoadError):  # refresh() has logged and counted it
                await self.check_once()

    def start_watching(self) -> None:
        if self.watch_interval_s > 0:
            self._watcher = asyncio.get_running_loop().create_task(
                self._watch(), name="stratus-watch"
            )

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    def status(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "model": self.current.describe() if self.current else None,
            "source": self.source.description,
            "following": self.pinned_alias or self.source.alias,
            "pinned": self.pinned_alias is not None,
            "watch_interval_s": self.watch_interval_s,
            "last_check": self.last_check,
            "last_error": self.last_error,
        }
