"""The framework's ceiling: a FastAPI endpoint that does nothing (served like the service)."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.post("/noop")
async def noop() -> dict[str, str]:
    return {}
