from __future__ import annotations

from fastapi import APIRouter

from app.api.routes import admin, health, invocations, predict, v2

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(predict.router)
api_router.include_router(invocations.router)
api_router.include_router(v2.router)
api_router.include_router(admin.router)
