"""``Annotated`` dependencies: the data plane, the model manager and role-checked principals."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from app.api.errors import ApiError
from app.core.config import Settings
from app.core.logging import audit_log
from app.core.metrics import Metrics
from app.core.security import ROLE_ADMIN, ROLE_PREDICT, Authenticator, AuthError, Principal
from app.model.manager import ModelManager
from app.serving.batcher import RequestTimeoutError
from app.serving.dataplane import DataPlane

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key")
bearer_scheme = HTTPBearer(auto_error=False, description="an API key or an OAuth 2.0 JWT")


async def get_dataplane(request: Request) -> DataPlane:
    dataplane: DataPlane = request.app.state.dataplane
    return dataplane


async def get_manager(request: Request) -> ModelManager:
    manager: ModelManager = request.app.state.manager
    return manager


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def request_deadline(request: Request) -> float:
    """The event-loop time by which this request must be answered (``STRATUS_REQUEST_TIMEOUT_S``
    from now): authentication, queueing and prediction all count against it."""
    timeout: float = request.app.state.settings.request_timeout_s
    return asyncio.get_running_loop().time() + timeout


async def authorize(
    request: Request, role: str, token: str | None, deadline: float | None = None
) -> Principal:
    """Authenticate ``token`` (by ``deadline``: a slow identity provider cannot hold a request
    past its timeout) and check ``role``; failures are counted and audited."""
    authenticator: Authenticator = request.app.state.authenticator
    try:
        if authenticator.may_wait:
            async with asyncio.timeout_at(deadline or request_deadline(request)):
                who = await authenticator.authenticate(token)
        else:  # nothing to wait for: spare the hot path a timer
            who = await authenticator.authenticate(token)
    except TimeoutError:
        request.app.state.metrics.auth_failures.labels("timeout").inc()
        raise RequestTimeoutError(
            "authentication did not finish within the request timeout"
        ) from None
    except AuthError as exc:
        request.app.state.metrics.auth_failures.labels(exc.reason).inc()
        audit_log.warning(
            "authentication failed",
            extra={
                "event": "auth_failure",
                "reason": exc.reason,
                "path": request.url.path,
                "method": request.method,
                "client": _client(request),
            },
        )
        raise
    if role not in who.roles:
        request.app.state.metrics.auth_failures.labels("missing_role").inc()
        audit_log.warning(
            "authorization failed",
            extra={
                "event": "auth_forbidden",
                "subject": who.subject,
                "role": role,
                "path": request.url.path,
                "method": request.method,
                "client": _client(request),
            },
        )
        raise ApiError(403, "forbidden", f"this credential lacks the {role!r} role")
    return who


def require_role(role: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that also declares the security schemes in the OpenAPI document."""

    async def principal(
        request: Request,
        api_key: Annotated[str | None, Security(api_key_header)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    ) -> Principal:
        return await authorize(request, role, api_key or (bearer.credentials if bearer else None))

    return principal


def _token(request: Request) -> str | None:
    headers = request.headers
    api_key = headers.get("x-api-key")
    if api_key:
        return api_key
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


@dataclass(frozen=True)
class Scoring:
    """What a hot route needs, resolved by one dependency (each dependency costs throughput)."""

    principal: Principal
    dataplane: DataPlane
    max_body_bytes: int
    deadline: float


async def scoring_context(request: Request) -> Scoring:
    """Authorize a scoring request (role ``predict``) and hand over the data plane."""
    deadline = request_deadline(request)
    principal = await authorize(request, ROLE_PREDICT, _token(request), deadline)
    state = request.app.state
    return Scoring(principal, state.dataplane, state.settings.max_body_bytes, deadline)


#: OpenAPI security of routes that read credentials without the Security() dependencies.
SECURITY_DOC: dict[str, Any] = {"security": [{"APIKeyHeader": []}, {"HTTPBearer": []}]}


PredictPrincipal = Annotated[Principal, Depends(require_role(ROLE_PREDICT))]
AdminPrincipal = Annotated[Principal, Depends(require_role(ROLE_ADMIN))]
DataPlaneDep = Annotated[DataPlane, Depends(get_dataplane)]
ManagerDep = Annotated[ModelManager, Depends(get_manager)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
