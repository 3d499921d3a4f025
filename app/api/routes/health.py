"""Liveness, readiness and Prometheus metrics (no credentials: probes and scrapers call these).

Three dialects of the same two facts (the process and batcher are alive; a model is loaded):
``/healthz`` and ``/readyz`` (``{"status": ...}``), the Open Inference Protocol's
``/v2/health/live`` and ``/v2/health/ready`` (``{"live": ...}``, ``{"ready": ...}``, as KServe's
and Triton's clients read them), and MLflow's scoring server ``/ping`` and ``/health`` (200 with
an empty JSON line once the model is loaded, else 404) with ``/version`` (the MLflow version).
"""

from __future__ import annotations

import contextlib
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from app.api.body import json_response
from app.api.deps import DataPlaneDep, ManagerDep, MetricsDep
from app.api.errors import error_response
from app.api.schemas import ERRORS, Health, V2Live, V2Ready

router = APIRouter(tags=["health"])


def _alive(request: Request, dataplane: DataPlaneDep) -> bool:
    return dataplane.batcher.alive and not getattr(request.app.state, "stopping", False)


@router.get("/healthz", summary="Liveness", response_model=Health, responses={503: ERRORS[503]})
async def healthz(request: Request, dataplane: DataPlaneDep) -> Response:
    alive = _alive(request, dataplane)
    return json_response({"status": "alive" if alive else "dead"}, 200 if alive else 503)


@router.get("/readyz", summary="Readiness", response_model=Health, responses={503: ERRORS[503]})
async def readyz(manager: ManagerDep) -> Response:
    ready = manager.ready
    return json_response({"status": "ready" if ready else "not ready"}, 200 if ready else 503)


@router.get(
    "/v2/health/live",
    summary="V2 server liveness",
    response_model=V2Live,
    responses={503: {"model": V2Live, "description": "not live"}},
)
async def v2_live(request: Request, dataplane: DataPlaneDep) -> Response:
    alive = _alive(request, dataplane)
    return json_response({"live": alive}, 200 if alive else 503)


@router.get(
    "/v2/health/ready",
    summary="V2 server readiness",
    response_model=V2Ready,
    responses={503: {"model": V2Ready, "description": "no model loaded yet"}},
)
async def v2_ready(manager: ManagerDep) -> Response:
    ready = manager.ready
    return json_response({"ready": ready}, 200 if ready else 503)


async def _ping(manager: ManagerDep) -> Response:
    if manager.ready:
        return Response(b"\n", 200, media_type="application/json")
    return error_response(404, "not_ready", "no model is loaded yet")


for path, summary in (("/ping", "MLflow scoring-server health"), ("/health", "Same as /ping")):
    router.add_api_route(
        path,
        _ping,
        methods=["GET"],
        summary=summary,
        response_class=Response,
        responses={
            200: {"description": "a model is loaded", "content": {"application/json": {}}},
            404: {**ERRORS[404], "description": "no model is loaded yet"},
        },
    )


@router.get(
    "/version",
    summary="The MLflow version (MLflow scoring-server protocol)",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def mlflow_version() -> Response:
    return Response(installed_mlflow_version().encode(), 200, media_type="application/json")


@cache
def installed_mlflow_version() -> str:
    """The installed MLflow's version, from its distribution's metadata (the service installs
    ``mlflow-skinny``): ``import mlflow`` for this one string would cost a second and 30 MiB."""
    for distribution in ("mlflow-skinny", "mlflow"):
        with contextlib.suppress(PackageNotFoundError):
            return version(distribution)
    from mlflow.version import VERSION  # neither distribution's metadata: ask MLflow itself

    return VERSION


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(metrics: MetricsDep, dataplane: DataPlaneDep) -> Response:
    metrics.queue_depth.set(dataplane.batcher.depth)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
