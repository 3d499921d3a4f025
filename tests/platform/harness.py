"""Run the real Pulumi program (``platform/__main__.py``) for a shipped stack under mocks.

The program runs in-process with ``pulumi.runtime.set_mocks(..., preview=False)`` and the stack's
own config file (``stacks/Pulumi.<stack>.yaml``). Every registered resource is captured with its
inputs (plain, and with secret markers kept, so tests can prove no secret is in plain text), and
the stack outputs are resolved. Cloud-specific computed outputs (ids, ARNs, endpoints) and invokes
come from the providers registered with :func:`computed_outputs` and :func:`invoke_result`.
"""

from __future__ import annotations

import asyncio
import json
import runpy
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "platform" / "__main__.py"
STACKS = ROOT / "stacks"

ComputedFn = Callable[[pulumi_mocks.MockResourceArgs], Mapping[str, Any]]
InvokeFn = Callable[[Mapping[str, Any]], Mapping[str, Any]]

_COMPUTED: dict[str, ComputedFn] = {}
_INVOKES: dict[str, InvokeFn] = {}


def computed_outputs(resource_type: str) -> Callable[[ComputedFn], ComputedFn]:
    """Register what the mock returns, besides the inputs, for a resource type token."""

    def register(fn: ComputedFn) -> ComputedFn:
        _COMPUTED[resource_type] = fn
        return fn

    return register


def invoke_result(token: str) -> Callable[[InvokeFn], InvokeFn]:
    """Register the mock result of an invoke (data source / function) token."""

    def register(fn: InvokeFn) -> InvokeFn:
        _INVOKES[token] = fn
        return fn

    return register


@dataclass(frozen=True)
class Registered:
    """One resource as the program registered it."""

    type: str
    name: str
    inputs: Mapping[str, Any]
    secret_paths: frozenset[str]
    provider: str
    custom: bool
    parent: str = ""
    ignore_changes: tuple[str, ...] = ()

    def get(self, path: str, default: Any = None) -> Any:
        """Input at a dotted path (``"vpcConfig.endpointPublicAccess"``)."""
        value: Any = self.inputs
        for part in path.split("."):
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return default
        return value


@dataclass
class StackRun:
    """The outcome of one program run."""

    stack: str
    resources: list[Registered]
    outputs: dict[str, Any]
    secret_outputs: frozenset[str] = field(default_factory=frozenset)

    def of_type(self, resource_type: str) -> list[Registered]:
        return [r for r in self.resources if r.type == resource_type]

    def one(self, resource_type: str, name_contains: str = "") -> Registered:
        found = [r for r in self.of_type(resource_type) if name_contains in r.name]
        assert len(found) == 1, f"expected one {resource_type} ~{name_contains!r}, got {found}"
        return found[0]

    def named(self, name: str) -> Registered:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name!r}, got {len(found)}"
        return found[0]

    def count_by_type(self) -> dict[str, int]:
        return dict(sorted(Counter(r.type for r in self.resources).items()))

    def plaintext_occurrences(self, secret: str) -> list[str]:
        """Every input or stack output holding ``secret`` without being marked secret."""
        found: list[str] = []
        for resource in self.resources:
            for path, value in _walk(resource.inputs):
                covered = any(
                    path == p or path.startswith(p + ".") or p == "." for p in resource.secret_paths
                )
                if isinstance(value, str) and secret in value and not covered:
                    found.append(f"{resource.type} {resource.name}: {path}")
        for name, output in self.outputs.items():
            for path, value in _walk(output, name):
                if isinstance(value, str) and secret in value and name not in self.secret_outputs:
                    found.append(f"stack output {path}")
        return found


def _walk(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{prefix}.{index}" if prefix else str(index))
    else:
        yield prefix, value


def _secret_paths(value: Any, prefix: str = "") -> Iterator[str]:
    if rpc.is_rpc_secret(value):
        yield prefix or "."
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _secret_paths(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secret_paths(item, f"{prefix}.{index}" if prefix else str(index))


def _unwrap(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return _unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, Mapping):
        return {key: _unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrap(item) for item in value]
    return value


#: What every ``random.RandomPassword`` yields under the mocks (both clouds' databases use one).
MOCK_PASSWORD = "Zq8mN3vR7tK2pL9xW4cF6hJ1bD5gS0aYeU3iO8rT"


@computed_outputs("random:index/randomPassword:RandomPassword")
def _random_password(args: pulumi_mocks.MockResourceArgs) -> Mapping[str, Any]:
    return {"result": MOCK_PASSWORD, "bcryptHash": "$2a$10$mockmockmockmockmockmo"}


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(_unwrap(args.inputs))
        computed = _COMPUTED.get(args.typ)
        if computed is not None:
            state.update(computed(args))
        return f"{args.name}-id", state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        handler = _INVOKES.get(args.token)
        if handler is None:
            raise AssertionError(f"no mock registered for invoke {args.token!r}")
        return dict(handler(_unwrap(args.args))), []


class _CapturingMonitor(pulumi_mocks.MockMonitor):
    """Records every registration with secret markers intact."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.captured: list[Registered] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.type != "pulumi:pulumi:Stack":
            raw = rpc.deserialize_properties(request.object, keep_internal=False)
            self.captured.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    inputs=_unwrap(raw),
                    secret_paths=frozenset(_secret_paths(raw)),
                    provider=request.provider,
                    custom=bool(request.custom),
                    parent=request.parent,
                    ignore_changes=tuple(request.ignoreChanges),
                )
            )
        response = super().RegisterResource(request)
        # The engine marks a provider's additional secret outputs (e.g. RandomPassword.result) as
        # secret; the SDK's mock monitor does not, so do it here as the engine would.
        for key in request.additionalSecretOutputs:
            if key in response.object.fields:
                plain = struct_pb2.Value()
                plain.CopyFrom(response.object.fields[key])
                wrapped = response.object.fields[key].struct_value
                wrapped.Clear()
                wrapped.update({rpc._special_sig_key: rpc._special_secret_sig})
                wrapped.fields["value"].CopyFrom(plain)
        return response


def stack_config(stack: str) -> dict[str, str]:
    """The stack file's config as the Pulumi engine hands it to a program (objects as JSON)."""
    path = STACKS / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text()) or {}
    config: dict[str, str] = {}
    for key, value in (document.get("config") or {}).items():
        if isinstance(value, Mapping) and "secure" in value:
            value = "decrypted-" + key  # a stand-in for an encrypted value
        config[key] = value if isinstance(value, str) else json.dumps(value)
    return config


def run_stack(
    stack: str,
    *,
    config: Mapping[str, str] | None = None,
    override: Mapping[str, Any] | None = None,
    project: str = "stratus",
) -> StackRun:
    """Run ``platform/__main__.py`` for ``stack`` under mocks and return what it registered.

    ``config`` replaces the stack file's config entirely; ``override`` sets single keys on top of it
    (values that are not strings are JSON-encoded, as structured config is).
    """
    values = dict(config) if config is not None else stack_config(stack)
    for key, value in (override or {}).items():
        values[key] = value if isinstance(value, str) else json.dumps(value)

    # Other tests (asyncio.run, anyio portals) may have closed or unset this thread's loop; the
    # Pulumi runtime drives the program on the thread's current loop.
    asyncio.set_event_loop(asyncio.new_event_loop())
    settings.reset_options()
    pulumi.runtime.set_all_config(values)
    monitor = _CapturingMonitor(_Mocks())
    pulumi.runtime.set_mocks(
        monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor
    )
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    root = settings.get_root_resource()
    resolved: dict[str, Any] = {}
    secret_outputs: set[str] = set()

    _sync_await(run_pulumi_func(lambda: runpy.run_path(str(PROGRAM), run_name="__main__")))

    assert root is not None
    for name, output in dict(getattr(root, "outputs", {})).items():
        out = pulumi.Output.from_input(output)
        resolved[name] = _sync_await(out.future())
        if _sync_await(out.is_secret()):
            secret_outputs.add(name)
    return StackRun(
        stack=stack,
        resources=list(monitor.captured),
        outputs=resolved,
        secret_outputs=frozenset(secret_outputs),
    )
