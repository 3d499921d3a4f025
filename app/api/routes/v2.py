"""Open Inference Protocol (KServe V2) model routes, with and without ``/versions/{version}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.api.body import json_response, read_json
from app.api.deps import DataPlaneDep, PredictPrincipal, SettingsDep
from app.api.schemas import ERRORS, INFER_BODY, InferAnswer, ModelMetadata
from app.serving.dataplane import UnknownModelError

router = APIRouter(prefix="/v2/models", tags=["v2"])

ModelName = Annotated[str, Path(min_length=1, max_length=200)]
ModelVersion = Annotated[str, Path(min_length=1, max_length=100)]


async def _metadata(
    _: PredictPrincipal,
    dataplane: DataPlaneDep,
    name: ModelName,
    version: ModelVersion | None = None,
) -> Response:
    return json_response(dataplane.model_metadata(name, version))


async def _model_ready(
    dataplane: DataPlaneDep, name: ModelName, version: ModelVersion | None = None
) -> Response:
    model = dataplane.manager.current
    served = model is not None and model.identity.name == name
    if served and version is not None and model is not None:
        served = version == model.identity.version
    if model is not None and not served:
        raise UnknownModelError(
            f"model {name!r}{f' version {version!r}' if version else ''} is not served"
        )
    ready = model is not None
    return json_response({"name": name, "ready": ready}, 200 if ready else 503)


async def _infer(
    request: Request,
    _: PredictPrincipal,
    dataplane: DataPlaneDep,
    settings: SettingsDep,
    name: ModelName,
    version: ModelVersion | None = None,
) -> Response:
    payload = await read_json(request, settings.max_body_bytes)
    return json_response(await dataplane.infer_v2(name, version, payload))


for suffix in ("/{name}", "/{name}/versions/{version}"):
    router.add_api_route(
        suffix, _metadata, methods=["GET"], summary="Model metadata",
        response_model=ModelMetadata, responses=ERRORS,
    )  # fmt: skip
    router.add_api_route(
        suffix + "/ready", _model_ready, methods=["GET"], summary="Model readiness",
        responses={404: ERRORS[404], 503: ERRORS[503]},
    )  # fmt: skip
    router.add_api_route(
        suffix + "/infer", _infer, methods=["POST"], summary="Inference",
        response_model=InferAnswer, responses=ERRORS, openapi_extra=INFER_BODY,
    )  # fmt: skip
