"""Liveness, readiness and Prometheus metrics (no credentials: probes and scrapers call these)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from app.api.body import json_response
from app.api.deps import DataPlaneDep, ManagerDep, MetricsDep
from app.api.schemas import ERRORS, Health

router = APIRouter(tags=["health"])


async def _live(request: Request, dataplane: DataPlaneDep) -> Response:
    alive = dataplane.batcher.alive and not getattr(request.app.state, "stopping", False)
    return json_response({"status": "alive" if alive else "dead"}, 200 if alive else 503)


async def _ready(manager: ManagerDep) -> Response:
    ready = manager.ready
    return json_response({"status": "ready" if ready else "not ready"}, 200 if ready else 503)


for path, endpoint, summary in (
    ("/healthz", _live, "Liveness"),
    ("/readyz", _ready, "Readiness"),
    ("/v2/health/live", _live, "V2 server liveness"),
    ("/v2/health/ready", _ready, "V2 server readiness"),
):
    router.add_api_route(
        path,
        endpoint,
        methods=["GET"],
        summary=summary,
        response_model=Health,
        responses={503: ERRORS[503]},
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(metrics: MetricsDep, dataplane: DataPlaneDep) -> Response:
    metrics.queue_depth.set(dataplane.batcher.depth)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
