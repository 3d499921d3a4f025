"""Open Inference Protocol (KServe V2) model routes, with and without ``/versions/{version}``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.api.body import inference_response, json_response, read_inference_request
from app.api.deps import SECURITY_DOC, DataPlaneDep, PredictPrincipal, scoring_context
from app.api.direct_route import DirectRoute
from app.api.schemas import ERRORS, INFER_BODY, InferAnswer, ModelMetadata, ServerMetadata
from app.serving.dataplane import UnknownModelError

server_router = APIRouter(prefix="/v2", tags=["v2"])
router = APIRouter(prefix="/v2/models", tags=["v2"])
infer_router = APIRouter(prefix="/v2/models", tags=["v2"], route_class=DirectRoute)


@server_router.get("", summary="Server metadata", response_model=ServerMetadata)
async def server_metadata(dataplane: DataPlaneDep) -> Response:
    """Name, version and the protocol extensions served (no credentials, like health)."""
    return json_response(dataplane.server_metadata())


ModelName = Annotated[str, Path(min_length=1, max_length=200)]
ModelVersion = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("/{name}", summary="Model metadata", response_model=ModelMetadata, responses=ERRORS)
async def metadata(_: PredictPrincipal, dataplane: DataPlaneDep, name: ModelName) -> Response:
    return json_response(dataplane.model_metadata(name, None))


@router.get(
    "/{name}/versions/{version}",
    summary="Model version metadata",
    response_model=ModelMetadata,
    responses=ERRORS,
)
async def version_metadata(
    _: PredictPrincipal, dataplane: DataPlaneDep, name: ModelName, version: ModelVersion
) -> Response:
    return json_response(dataplane.model_metadata(name, version))


def _readiness(dataplane: DataPlaneDep, name: str, version: str | None) -> Response:
    model = dataplane.manager.current
    if model is None:
        return json_response({"name": name, "ready": False}, 503)
    if name != model.identity.name or (version is not None and version != model.identity.version):
        shown = f"{name!r}" + (f" version {version!r}" if version else "")
        raise UnknownModelError(f"model {shown} is not served")
    return json_response({"name": name, "ready": True})


_READY_RESPONSES: dict[int | str, dict[str, Any]] = {404: ERRORS[404], 503: ERRORS[503]}


@router.get("/{name}/ready", summary="Model readiness", responses=_READY_RESPONSES)
async def model_ready(dataplane: DataPlaneDep, name: ModelName) -> Response:
    return _readiness(dataplane, name, None)


@router.get(
    "/{name}/versions/{version}/ready",
    summary="Model version readiness",
    responses=_READY_RESPONSES,
)
async def version_ready(
    dataplane: DataPlaneDep, name: ModelName, version: ModelVersion
) -> Response:
    return _readiness(dataplane, name, version)


_INFER = {
    "response_model": InferAnswer,
    "responses": ERRORS,
    "openapi_extra": {**INFER_BODY, **SECURITY_DOC},
}


async def _infer(request: Request, name: str, version: str | None) -> Response:
    scoring = await scoring_context(request)
    payload, binary = await read_inference_request(request, scoring.max_body_bytes)
    answer = await scoring.dataplane.infer_v2(name, version, payload, binary, scoring.deadline)
    return inference_response(answer.header, answer.binary)


@infer_router.post("/{name}/infer", summary="Inference", **_INFER)  # type: ignore[arg-type]
async def infer(request: Request, name: ModelName) -> Response:
    return await _infer(request, name, None)


@infer_router.post("/{name}/versions/{version}/infer", summary="Version inference", **_INFER)  # type: ignore[arg-type]
async def version_infer(request: Request, name: ModelName, version: ModelVersion) -> Response:
    return await _infer(request, name, version)
