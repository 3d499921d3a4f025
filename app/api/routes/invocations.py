"""``POST /invocations``: the MLflow scoring protocol, answered like ``mlflow models serve``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.body import json_response, read_json
from app.api.deps import DataPlaneDep, PredictPrincipal, SettingsDep
from app.api.schemas import ERRORS, INVOCATIONS_BODY, InvocationsAnswer

router = APIRouter(tags=["mlflow"])


@router.post(
    "/invocations",
    summary="MLflow scoring protocol",
    response_model=InvocationsAnswer,
    responses=ERRORS,
    openapi_extra=INVOCATIONS_BODY,
)
async def invocations(
    request: Request, _: PredictPrincipal, dataplane: DataPlaneDep, settings: SettingsDep
) -> Response:
    payload = await read_json(request, settings.max_body_bytes)
    return json_response(await dataplane.invocations(payload))
