"""An offline stack run as the engine sends it to an analyzer.

* ``Analyze`` gets each resource's inputs (secrets as secret values, the engine's
  ``KeepSecrets``), its options, and its provider (type, URN, name, inputs). A resource without
  an explicit provider gets the engine's default provider for its package: named
  ``default_<sdk version>`` with the stack config of the package's namespace as inputs.
* ``AnalyzeStack`` gets every resource with its parent and dependencies, the default providers,
  and the root ``pulumi:pulumi:Stack`` resource whose properties are the stack outputs. Offline,
  a resource's state is its inputs (as in a preview, where nothing is created yet).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2

from infra.offline import Registered, StackRun

STACK_TYPE = "pulumi:pulumi:Stack"


def stack_urn(run: StackRun, project: str) -> str:
    return f"urn:pulumi:{run.stack}::{project}::{STACK_TYPE}::{project}-{run.stack}"


def _secret(value: Any) -> dict[str, Any]:
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


def with_secrets(value: Any, secret_paths: frozenset[str], prefix: str = "") -> Any:
    """``value`` with the values at ``secret_paths`` (dotted, ``.`` for the whole) marked
    secret the way the engine marshals them."""
    if (prefix or ".") in secret_paths:
        return _secret(value)
    if isinstance(value, Mapping):
        return {
            k: with_secrets(v, secret_paths, f"{prefix}.{k}" if prefix else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            with_secrets(v, secret_paths, f"{prefix}.{i}" if prefix else str(i))
            for i, v in enumerate(value)
        ]
    return value


def to_struct(properties: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(properties))
    return struct


@dataclass(frozen=True)
class Provider:
    type: str
    name: str
    urn: str
    properties: Mapping[str, Any]

    def message(self) -> analyzer_pb2.AnalyzerProviderResource:
        return analyzer_pb2.AnalyzerProviderResource(
            type=self.type, name=self.name, urn=self.urn, properties=to_struct(self.properties)
        )


def _sdk_version(package: str) -> str:
    try:
        return importlib.metadata.version("pulumi_" + package.replace("-", "_"))
    except importlib.metadata.PackageNotFoundError:
        return ""


class StackMessages:
    """Builds the analyzer requests for one offline stack run."""

    def __init__(self, run: StackRun, project: str = "stratus") -> None:
        self.run = run
        self.project = project
        self.by_urn = run.by_urn()
        self.default_providers: dict[str, Provider] = {}

    def provider_for(self, resource: Registered) -> Provider | None:
        if resource.provider:
            urn = resource.provider.rsplit("::", 1)[0]
            explicit = self.by_urn.get(urn)
            if explicit is None:
                return None
            return Provider(
                explicit.type,
                explicit.name,
                explicit.urn,
                with_secrets(dict(explicit.inputs), explicit.secret_paths),
            )
        if not resource.custom or resource.type.startswith("pulumi:providers:"):
            return None
        return self._default_provider(resource.type.split(":", 1)[0])

    def _default_provider(self, package: str) -> Provider:
        if package not in self.default_providers:
            version = _sdk_version(package)
            name = "default_" + version.replace(".", "_") if version else "default"
            properties: dict[str, Any] = {
                key.split(":", 1)[1]: value
                for key, value in self.run.config.items()
                if key.startswith(package + ":")
            }
            if version:
                properties["version"] = version
            urn = f"urn:pulumi:{self.run.stack}::{self.project}::pulumi:providers:{package}::{name}"
            self.default_providers[package] = Provider(
                f"pulumi:providers:{package}", name, urn, properties
            )
        return self.default_providers[package]

    @staticmethod
    def _properties(resource: Registered) -> struct_pb2.Struct:
        return to_struct(with_secrets(dict(resource.inputs), resource.secret_paths))

    @staticmethod
    def _options(resource: Registered) -> analyzer_pb2.AnalyzerResourceOptions:
        return analyzer_pb2.AnalyzerResourceOptions(
            protect=resource.protect,
            ignoreChanges=list(resource.ignore_changes),
            parent=resource.parent,
        )

    def analyze_requests(self) -> Iterator[tuple[Registered, analyzer_pb2.AnalyzeRequest]]:
        for resource in self.run.resources:
            provider = self.provider_for(resource)
            yield (
                resource,
                analyzer_pb2.AnalyzeRequest(
                    type=resource.type,
                    name=resource.name,
                    urn=resource.urn,
                    properties=self._properties(resource),
                    options=self._options(resource),
                    provider=provider.message() if provider is not None else None,
                ),
            )

    def stack_request(self) -> analyzer_pb2.AnalyzeStackRequest:
        root = stack_urn(self.run, self.project)
        outputs = {
            name: _secret(value) if name in self.run.secret_outputs else value
            for name, value in self.run.outputs.items()
        }
        resources = [
            analyzer_pb2.AnalyzerResource(
                type=STACK_TYPE,
                name=f"{self.project}-{self.run.stack}",
                urn=root,
                properties=to_struct(outputs),
            )
        ]
        for resource in self.run.resources:
            provider = self.provider_for(resource)
            resources.append(
                analyzer_pb2.AnalyzerResource(
                    type=resource.type,
                    name=resource.name,
                    urn=resource.urn,
                    properties=self._properties(resource),
                    options=self._options(resource),
                    provider=provider.message() if provider is not None else None,
                    parent=resource.parent or root,
                    dependencies=list(resource.depends_on),
                )
            )
        for provider in self.default_providers.values():
            resources.append(
                analyzer_pb2.AnalyzerResource(
                    type=provider.type,
                    name=provider.name,
                    urn=provider.urn,
                    properties=to_struct(provider.properties),
                    parent=root,
                )
            )
        return analyzer_pb2.AnalyzeStackRequest(resources=resources)
