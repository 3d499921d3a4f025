"""``POST /predict``: rows or objects in; labels, class probabilities and model identity out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.body import json_response, read_json
from app.api.deps import SECURITY_DOC, scoring_context
from app.api.direct_route import DirectRoute
from app.api.schemas import ERRORS, PREDICT_BODY, PredictAnswer

router = APIRouter(route_class=DirectRoute, tags=["predict"])


@router.post(
    "/predict",
    summary="Predict with the served model",
    response_model=PredictAnswer,
    responses=ERRORS,
    openapi_extra={**PREDICT_BODY, **SECURITY_DOC},
)
async def predict(request: Request) -> Response:
    scoring = await scoring_context(request)
    payload = await read_json(request, scoring.max_body_bytes)
    return json_response(await scoring.dataplane.predict(payload, scoring.deadline))
