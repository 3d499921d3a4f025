"""``POST /predict``: rows or objects in; labels, class probabilities and model identity out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.body import json_response, read_json
from app.api.deps import DataPlaneDep, PredictPrincipal, SettingsDep
from app.api.schemas import ERRORS, PREDICT_BODY, PredictAnswer

router = APIRouter(tags=["predict"])


@router.post(
    "/predict",
    summary="Predict with the served model",
    response_model=PredictAnswer,
    responses=ERRORS,
    openapi_extra=PREDICT_BODY,
)
async def predict(
    request: Request, _: PredictPrincipal, dataplane: DataPlaneDep, settings: SettingsDep
) -> Response:
    payload = await read_json(request, settings.max_body_bytes)
    return json_response(await dataplane.predict(payload))
