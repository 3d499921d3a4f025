"""The ASGI app (``app.main:app``): settings, model manager, batcher and routes, wired in
``lifespan``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.api.errors import ErrorRenderer, install_error_handlers
from app.api.fast_path import ScoringFastPath
from app.api.main import api_router, scoring_routes
from app.core.config import PredictExecutor, Settings, get_settings
from app.core.logging import AccessLog, configure_logging
from app.core.metrics import Metrics
from app.core.middleware import RequestContextMiddleware
from app.core.security import build_authenticator
from app.core.tracing import setup_tracing
from app.model.manager import ModelManager
from app.model.source import parse_model_uri
from app.serving.batcher import MicroBatcher
from app.serving.dataplane import DataPlane

logger = logging.getLogger("stratus.app")


def _mlflow_client_limits(settings: Settings) -> None:
    """Bound MLflow's HTTP retries so a dead tracking server fails a reload in seconds."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(settings.mlflow_http_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(settings.mlflow_http_timeout_s))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")


def create_app(settings: Settings | None = None, metrics: Metrics | None = None) -> ScoringFastPath:
    """The FastAPI app wrapped in the scoring fast path (``.app`` is the FastAPI app itself)."""
    settings = settings or get_settings()
    metrics = metrics or Metrics()
    authenticator = build_authenticator(settings)  # bad key files fail here, at start-up
    source = parse_model_uri(settings.model_uri, settings.mlflow_tracking_uri)
    tracing = setup_tracing(settings)
    access_log = AccessLog(sys.stdout.buffer) if settings.access_log else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _mlflow_client_limits(settings)
        batcher = MicroBatcher(
            metrics,
            max_batch_size=settings.max_batch_size,
            max_wait_ms=settings.max_batch_wait_ms,
            max_queue=settings.max_queue,
            timeout_s=settings.request_timeout_s,
            use_thread=settings.predict_executor is PredictExecutor.THREAD,
        )
        manager = ModelManager(
            source,
            metrics,
            watch_interval_s=settings.watch_interval_s,
            rollback_alias=settings.rollback_alias,
            allow_signature_change=settings.allow_signature_change,
            cache_dir=settings.model_cache_dir,
        )
        app.state.manager = manager
        app.state.dataplane = DataPlane(
            manager,
            batcher,
            strict_input=settings.strict_input,
            metrics=metrics,
            server_name=settings.service_name,
        )
        app.state.stopping = False
        batcher.start()
        flusher = asyncio.get_running_loop().create_task(access_log.run()) if access_log else None
        await manager.load_initial()
        # start-up objects (libraries, the model) live for the whole process: keep them out of
        # the cyclic GC's generations so its pauses stay short on the request path
        gc.collect()
        gc.freeze()
        manager.start_watching()
        logger.info(
            "service started",
            extra={
                "source": source.description,
                "ready": manager.ready,
                "auth_mode": settings.auth_mode.value,
            },
        )
        try:
            yield
        finally:
            app.state.stopping = True
            await manager.stop()
            await batcher.stop()
            if flusher is not None:
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
            close = getattr(getattr(authenticator, "jwks", None), "aclose", None)
            if close is not None:
                await close()
            if tracing is not None:
                tracing.shutdown()
            logger.info("service stopped")

    app = FastAPI(
        title="Stratus inference service",
        description="Serves the champion model: KServe V2, MLflow scoring and simple JSON.",
        version=__version__,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.authenticator = authenticator
    app.state.access_log = access_log
    errors = ErrorRenderer(settings.retry_after_s)
    install_error_handlers(app, errors)
    app.include_router(api_router)
    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        access_log=access_log,
        tracing=tracing,
    )
    return ScoringFastPath(
        app,
        scoring_routes(),
        errors=errors,
        metrics=metrics,
        access_log=access_log,
        tracing=tracing,
    )


def app_from_environment() -> ScoringFastPath:
    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings)


_APP: ScoringFastPath | None = None


def __getattr__(name: str) -> ScoringFastPath:
    """``app.main:app`` is built on first access, so importing this module reads no config."""
    global _APP
    if name != "app":
        raise AttributeError(name)
    if _APP is None:
        _APP = app_from_environment()
    return _APP
