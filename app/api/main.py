from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import BaseRoute

from app.api.routes import admin, health, invocations, predict, v2

#: the hot scoring routes: served by ``app.api.fast_path``; declared and included here too, for
#: the OpenAPI document and for the requests the fast path hands on to FastAPI
SCORING_ROUTERS = (predict.router, invocations.router, v2.infer_router)

api_router = APIRouter()
# the hot routes first: routes are matched in order
for scoring_router in SCORING_ROUTERS:
    api_router.include_router(scoring_router)
api_router.include_router(health.router)
api_router.include_router(v2.server_router)
api_router.include_router(v2.router)
api_router.include_router(admin.router)


def scoring_routes() -> list[BaseRoute]:
    return [route for router in SCORING_ROUTERS for route in router.routes]
