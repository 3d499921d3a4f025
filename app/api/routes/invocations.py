"""``POST /invocations``: the MLflow scoring protocol, answered like ``mlflow models serve``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.body import json_response, read_json
from app.api.deps import SECURITY_DOC, scoring_context
from app.api.direct_route import DirectRoute
from app.api.schemas import ERRORS, INVOCATIONS_BODY, InvocationsAnswer

router = APIRouter(route_class=DirectRoute, tags=["mlflow"])


@router.post(
    "/invocations",
    summary="MLflow scoring protocol",
    response_model=InvocationsAnswer,
    responses=ERRORS,
    openapi_extra={**INVOCATIONS_BODY, **SECURITY_DOC},
)
async def invocations(request: Request) -> Response:
    scoring = await scoring_context(request)
    payload = await read_json(request, scoring.max_body_bytes, non_finite=True)
    return json_response(await scoring.dataplane.invocations(payload, scoring.deadline))
