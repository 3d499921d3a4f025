from __future__ import annotations

from fastapi import APIRouter

from app.api.routes import admin, health, invocations, predict, v2

api_router = APIRouter()
# the hot routes first: routes are matched in order
api_router.include_router(predict.router)
api_router.include_router(invocations.router)
api_router.include_router(v2.infer_router)
api_router.include_router(health.router)
api_router.include_router(v2.router)
api_router.include_router(admin.router)
