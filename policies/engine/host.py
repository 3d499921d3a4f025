"""The engine's side of the plugin connection: the ``Engine`` gRPC service a plugin logs to.

The engine hands every plugin its own address as the first argument. ``pulumi.policy`` only
parses it today, but a pack that logs through the engine reaches this server, and its messages
are kept with the report (``messages``) instead of being lost.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent import futures
from types import TracebackType
from typing import Any

import grpc
from google.protobuf import empty_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc


class _Engine(engine_pb2_grpc.EngineServicer):
    def __init__(self, root_urn: str) -> None:
        self.root_urn = root_urn
        self.messages: list[str] = []
        self._lock = threading.Lock()

    def Log(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        severity = engine_pb2.LogSeverity.Name(request.severity).lower()
        with self._lock:
            self.messages.append(f"{severity}: {request.message}")
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:  # noqa: N802
        return engine_pb2.GetRootResourceResponse(urn=self.root_urn)

    def SetRootResource(self, request: Any, context: Any) -> Any:  # noqa: N802
        return engine_pb2.SetRootResourceResponse()


class EngineHost(contextlib.AbstractContextManager["EngineHost"]):
    """``with EngineHost(root_urn) as host: host.address``."""

    def __init__(self, root_urn: str) -> None:
        self.servicer = _Engine(root_urn)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        engine_pb2_grpc.add_EngineServicer_to_server(self.servicer, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[str]:
        return list(self.servicer.messages)

    def __enter__(self) -> EngineHost:
        self.server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.stop(grace=None)
