"""The analyzer gRPC client: the calls the Pulumi engine makes to a policy pack, in its order.

``Handshake`` and ``ConfigureStack`` (an older SDK may answer UNIMPLEMENTED, which the engine
accepts), ``GetAnalyzerInfo``, ``GetPluginInfo``, ``Configure`` with the reconciled per-policy
config, ``Analyze`` for each resource, then ``AnalyzeStack``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policies.engine.process import PackError
from policies.engine.reconcile import PolicyEntry

#: The engine lifts gRPC's 4 MiB message limit for plugins (large stacks, large properties).
MAX_MESSAGE_BYTES = 400 * 1024 * 1024
CONNECT_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 120.0


class AnalyzerClient(contextlib.AbstractContextManager["AnalyzerClient"]):
    def __init__(self, port: int) -> None:
        self.channel = grpc.insecure_channel(
            f"127.0.0.1:{port}",
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.channel.close()

    def wait_ready(self) -> None:
        try:
            grpc.channel_ready_future(self.channel).result(timeout=CONNECT_TIMEOUT_S)
        except grpc.FutureTimeoutError:
            raise PackError("the policy pack's gRPC server did not accept connections") from None

    def _call(self, what: str, method: Any, request: Any, *, optional: bool = False) -> Any:
        try:
            return method(request, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            if optional and code == grpc.StatusCode.UNIMPLEMENTED:
                return None
            details = exc.details() if hasattr(exc, "details") else str(exc)
            raise PackError(f"the policy pack failed {what}: {details}") from None

    def handshake(self, engine_address: str, pack_dir: Path) -> None:
        directory = str(pack_dir)
        request = analyzer_pb2.AnalyzerHandshakeRequest(
            engine_address=engine_address, root_directory=directory, program_directory=directory
        )
        self._call("the handshake", self.stub.Handshake, request, optional=True)

    def configure_stack(
        self,
        *,
        stack: str,
        project: str,
        organization: str,
        config: Mapping[str, str],
        tags: Mapping[str, str],
        dry_run: bool = True,
    ) -> None:
        request = analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=stack,
            project=project,
            organization=organization,
            dry_run=dry_run,
            config=dict(config),
            tags=dict(tags),
        )
        self._call("ConfigureStack", self.stub.ConfigureStack, request, optional=True)

    def info(self) -> Any:
        return self._call("GetAnalyzerInfo", self.stub.GetAnalyzerInfo, empty_pb2.Empty())

    def plugin_version(self) -> str:
        info = self._call("GetPluginInfo", self.stub.GetPluginInfo, empty_pb2.Empty())
        return str(info.version)

    def configure(self, config: Mapping[str, PolicyEntry]) -> None:
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, entry in config.items():
            properties = struct_pb2.Struct()
            properties.update(entry.properties)
            request.policyConfig[name].CopyFrom(
                analyzer_pb2.PolicyConfig(
                    enforcementLevel=analyzer_pb2.EnforcementLevel.Value(entry.level.upper()),
                    properties=properties,
                )
            )
        self._call("Configure", self.stub.Configure, request)

    def analyze(self, request: analyzer_pb2.AnalyzeRequest) -> Any:
        return self._call(f"analysing {request.urn}", self.stub.Analyze, request)

    def analyze_stack(self, resources: Sequence[Any] | analyzer_pb2.AnalyzeStackRequest) -> Any:
        request = (
            resources
            if isinstance(resources, analyzer_pb2.AnalyzeStackRequest)
            else analyzer_pb2.AnalyzeStackRequest(resources=list(resources))
        )
        return self._call("analysing the stack", self.stub.AnalyzeStack, request)
