"""Admin routes (role ``admin``): inspect, reload and roll back the served model. Audited."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.body import json_response
from app.api.deps import AdminPrincipal, ManagerDep
from app.api.schemas import ERRORS, ModelStatus, ReloadAnswer
from app.core.logging import audit_log
from app.core.security import Principal
from app.model.loaded import ModelLoadError
from app.model.manager import ModelManager

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get(
    "/model",
    summary="The served model and watcher state",
    response_model=ModelStatus,
    responses=ERRORS,
)
async def model_status(_: AdminPrincipal, manager: ManagerDep) -> Response:
    return json_response(manager.status())


async def _run_admin(
    action: str, request: Request, who: Principal, manager: ModelManager
) -> Response:
    before = manager.current.identity.version if manager.current else None
    extra = {
        "event": f"admin_{action}",
        "subject": who.subject,
        "method": who.method,
        "client": request.client.host if request.client else None,
        "before": before,
    }
    try:
        result = await (manager.reload() if action == "reload" else manager.rollback())
    except ModelLoadError as exc:
        audit_log.warning(
            f"admin {action} failed", extra={**extra, "outcome": "failed", "error": str(exc)}
        )
        raise
    audit_log.info(
        f"admin {action}",
        extra={**extra, "outcome": result.outcome, "after": result.model.identity.version},
    )
    return json_response({"outcome": result.outcome, "model": result.model.describe()})


@router.post(
    "/reload",
    summary="Follow the configured alias now",
    response_model=ReloadAnswer,
    responses={**ERRORS, 409: {"description": "the load failed; the served model is unchanged"}},
)
async def reload(request: Request, who: AdminPrincipal, manager: ManagerDep) -> Response:
    return await _run_admin("reload", request, who, manager)


@router.post(
    "/rollback",
    summary="Serve the rollback alias (default `previous`)",
    response_model=ReloadAnswer,
    responses={**ERRORS, 409: {"description": "the load failed; the served model is unchanged"}},
)
async def rollback(request: Request, who: AdminPrincipal, manager: ManagerDep) -> Response:
    return await _run_admin("rollback", request, who, manager)
