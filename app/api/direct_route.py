"""``DirectRoute``: an ``APIRoute`` whose handler calls the endpoint straight away.

FastAPI's dependency solving costs tens of microseconds per request, which is a large share of
a single-row prediction. The hot routes therefore take ``(request, **path_params)``, read and
validate the body themselves (orjson) and resolve their context with plain ``await`` calls. Their
OpenAPI entry is unchanged: it comes from the signature, ``openapi_extra`` and ``responses``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response


class DirectRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            response: Response = await endpoint(request, **request.path_params)
            return response

        return handler
