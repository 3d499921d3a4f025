"""The scoring fast path: the hot scoring routes served without FastAPI's middleware stack.

Why it exists: for a single-row prediction the model and our code are a small share of a
request; most of the time goes into the framework layers every request crosses (Starlette's
``ServerErrorMiddleware``, FastAPI's telemetry and body-limit middlewares, ``ExceptionMiddleware``,
``AsyncExitStackMiddleware``, route matching through the nested included routers and the
``request_response`` wrapper). The scoring routes use none of that: they are ``DirectRoute``s
that authorize with plain awaits, read and validate their own body and return a finished
``Response``.

So :class:`ScoringFastPath`, the outermost ASGI app, matches a request against those routes
(with the routes' own ``matches``, as FastAPI's router does) and serves a match with the same
pieces FastAPI would use: the route's handler (``DirectRoute.get_route_handler``) inside the same
``RequestContextMiddleware`` (request id, metrics, access log, tracing), every exception rendered
by the same :class:`~app.api.errors.ErrorRenderer` as FastAPI's exception handlers, and the
response sent by the same ``Response``. Everything else (other routes, other methods on these
paths, trailing slashes, lifespan) goes to the FastAPI app unchanged, and the routes stay declared
on their routers, so the OpenAPI document does not change.

Known differences from the framework path: an unexpected exception gives the same 500 JSON but
with the request id (FastAPI renders it outside ``RequestContextMiddleware``, so it has none
there) and is not re-raised to the server; FastAPI's own OpenTelemetry instrumentation (active
only when a global OpenTelemetry provider is configured) does not see these requests, while the
service's own spans do.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI
from starlette.datastructures import State
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.direct_route import DirectRoute
from app.api.errors import ErrorRenderer
from app.core.logging import AccessLog
from app.core.metrics import Metrics
from app.core.middleware import RequestContextMiddleware
from app.core.tracing import Tracing


def _endpoint(route: DirectRoute, errors: ErrorRenderer) -> ASGIApp:
    """The route's own handler as an ASGI app; any exception becomes the service's error JSON."""
    handler = route.get_route_handler()

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await handler(Request(scope, receive, send))
        except Exception as exc:  # rendered exactly like FastAPI's exception handlers do
            response = errors.render(exc)
        await response(scope, receive, send)

    return endpoint


class ScoringFastPath:
    """Serves ``routes`` directly and everything else through ``app`` (the FastAPI app)."""

    def __init__(
        self,
        app: FastAPI,
        routes: Iterable[BaseRoute],
        *,
        errors: ErrorRenderer,
        metrics: Metrics,
        access_log: AccessLog | None,
        tracing: Tracing | None,
    ) -> None:
        self.app = app
        self.routes: list[tuple[DirectRoute, ASGIApp]] = []
        for route in routes:
            if not isinstance(route, DirectRoute):
                raise TypeError(f"only DirectRoutes can take the fast path, not {route!r}")
            served = RequestContextMiddleware(
                _endpoint(route, errors), metrics=metrics, access_log=access_log, tracing=tracing
            )
            self.routes.append((route, served))

    @property
    def state(self) -> State:
        """The FastAPI app's state (settings, model manager, data plane, ...)."""
        return self.app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route, served in self.routes:
                match, child_scope = route.matches(scope)
                if match == Match.FULL:
                    scope.update(child_scope)  # route, endpoint, path_params: as the router does
                    scope["app"] = self.app
                    await served(scope, receive, send)
                    return
        await self.app(scope, receive, send)
