"""Run the real Pulumi program (``platform/__main__.py``) for a shipped stack under the SDK mocks.

The program runs in-process with ``pulumi.runtime.set_mocks(..., preview=False)`` and the stack's
own config file (``stacks/Pulumi.<stack>.yaml``) with the example values of
``stacks/offline-overrides.yaml`` applied on top (org-specific values no shipped stack file can
know). Every registered resource is captured with its inputs (plain, and with secret markers kept,
so callers can prove no secret is in plain text), parent, provider and options, and the stack
outputs are resolved.

Cloud computed outputs (ids, ARNs, endpoints) and invokes come from the tables registered with
:func:`computed_outputs` and :func:`invoke_result` (``infra.offline.aws``, ``infra.offline.azure``).
A ``StackReference`` is answered with the outputs of an offline run of the referenced stack, so an
``-apps`` stack reads its foundation's real (mocked) contract.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import runpy
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.offline.interrupts import (
    RunInterruptedError,
    deferred_interrupts,
    stop_before_construction,
    stop_if_interrupted,
)

ComputedFn = Callable[[pulumi_mocks.MockResourceArgs], Mapping[str, Any]]
InvokeFn = Callable[[Mapping[str, Any]], Mapping[str, Any]]

_COMPUTED: dict[str, ComputedFn] = {}
_INVOKES: dict[str, InvokeFn] = {}

#: The file of example org-specific values applied on top of every stack file in offline runs.
OVERRIDES_FILE = "offline-overrides.yaml"
STACK_REFERENCE = "pulumi:pulumi:StackReference"


class OfflineError(RuntimeError):
    """The stack cannot be run offline (unknown stack, unreadable file); the message says why."""


@cache
def project_root() -> Path:
    """The repository root: ``STRATUS_PROJECT_ROOT``, else the first parent holding Pulumi.yaml
    (of this file, then of the working directory)."""
    explicit = os.environ.get("STRATUS_PROJECT_ROOT")
    if explicit:
        return Path(explicit).resolve()
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for candidate in (start, *start.parents):
            if (candidate / "Pulumi.yaml").is_file() and (candidate / "platform").is_dir():
                return candidate
    raise OfflineError("cannot find the Stratus project root (no Pulumi.yaml above here)")


def program_path() -> Path:
    return project_root() / "platform" / "__main__.py"


def stacks_dir() -> Path:
    return project_root() / "stacks"


def shipped_stacks() -> list[str]:
    """Every stack with a file in ``stacks/`` (``Pulumi.<stack>.yaml``), sorted."""
    return sorted(
        path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for path in stacks_dir().glob("Pulumi.*.yaml")
    )


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
    urn: str = ""
    ignore_changes: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    protect: bool = False
    #: Input name → the URNs of the resources whose outputs flow into it.
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

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

    def is_secret(self, path: str) -> bool:
        """Whether the input at ``path`` (or a parent of it) is marked secret."""
        return any(p == "." or path == p or path.startswith(p + ".") for p in self.secret_paths)


@dataclass
class StackRun:
    """The outcome of one program run."""

    stack: str
    resources: list[Registered]
    outputs: dict[str, Any]
    secret_outputs: frozenset[str] = field(default_factory=frozenset)
    config: Mapping[str, str] = field(default_factory=dict)

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

    def by_urn(self) -> dict[str, Registered]:
        return {r.urn: r for r in self.resources if r.urn}

    def count_by_type(self) -> dict[str, int]:
        return dict(sorted(Counter(r.type for r in self.resources).items()))

    def plaintext_occurrences(self, secret: str) -> list[str]:
        """Every input or stack output holding ``secret`` without being marked secret."""
        found: list[str] = []
        for resource in self.resources:
            for path, value in walk(resource.inputs):
                if isinstance(value, str) and secret in value and not resource.is_secret(path):
                    found.append(f"{resource.type} {resource.name}: {path}")
        for name, output in self.outputs.items():
            for path, value in walk(output, name):
                if isinstance(value, str) and secret in value and name not in self.secret_outputs:
                    found.append(f"stack output {path}")
        return found


def walk(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf of a nested structure with its dotted path."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{prefix}.{index}" if prefix else str(index))
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


#: What every ``random.RandomPassword`` yields under the mocks starts with this; tests look for it
#: in plain text to find a leaked password.
MOCK_PASSWORD = "Zq8mN3vR7tK2pL9xW4cF6hJ1bD5gS0aYeU3iO8rT"


def mock_password(name: str) -> str:
    """The mocked ``RandomPassword`` ``name``: :data:`MOCK_PASSWORD` and a suffix from the name.

    Distinct per resource, as real generated passwords are: with one value for all of them, two
    unrelated secrets would look like the same one (a policy tracing where a secret flows would
    see an API key in a log writer's password).
    """
    return MOCK_PASSWORD + hashlib.sha256(name.encode()).hexdigest()[:8]


@computed_outputs("random:index/randomPassword:RandomPassword")
def _random_password(args: pulumi_mocks.MockResourceArgs) -> Mapping[str, Any]:
    return {"result": mock_password(args.name), "bcryptHash": "$2a$10$mockmockmockmockmockmo"}


@dataclass(frozen=True)
class _Reference:
    outputs: Mapping[str, Any]
    secret_outputs: frozenset[str]


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self, references: Mapping[str, _Reference]) -> None:
        self.references = references
        #: Referenced stacks with no offline run yet; the runner runs them and starts over.
        self.missing: list[str] = []

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        stop_if_interrupted()
        if args.typ == STACK_REFERENCE:
            return self._stack_reference(args)
        state = dict(_unwrap(args.inputs))
        computed = _COMPUTED.get(args.typ)
        if computed is not None:
            state.update(computed(args))
        return f"{args.name}-id", state

    def _stack_reference(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        qualified = str(args.inputs.get("name") or args.resource_id or args.name)
        reference = self.references.get(qualified)
        if reference is None:
            self.missing.append(qualified)
            return qualified, {"name": qualified, "outputs": {}, "secretOutputNames": []}
        return qualified, {
            "name": qualified,
            "outputs": dict(reference.outputs),
            "secretOutputNames": sorted(reference.secret_outputs),
        }

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        stop_if_interrupted()
        handler = _INVOKES.get(args.token)
        if handler is None:
            raise AssertionError(f"no mock registered for invoke {args.token!r}")
        return dict(handler(_unwrap(args.args))), []


class _CapturingMonitor(pulumi_mocks.MockMonitor):
    """Records every registration with secret markers intact."""

    def __init__(self, mocks: _Mocks) -> None:
        super().__init__(mocks)
        self.captured: list[Registered] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type not in ("pulumi:pulumi:Stack", STACK_REFERENCE):
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
                    urn=response.urn,
                    ignore_changes=tuple(request.ignoreChanges),
                    depends_on=tuple(request.dependencies),
                    protect=bool(request.protect),
                    property_dependencies={
                        key: tuple(value.urns)
                        for key, value in request.propertyDependencies.items()
                    },
                )
            )
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


def _deep_merge(base: Any, top: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(top, Mapping):
        merged = dict(base)
        for key, value in top.items():
            merged[key] = _deep_merge(base[key], value) if key in base else value
        return merged
    return top


def _read_config_block(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise OfflineError(f"cannot read {path}: {exc}") from None
    block = document.get("config") or {}
    if not isinstance(block, Mapping):
        raise OfflineError(f"{path}: 'config' must be a mapping")
    return dict(block)


def offline_overrides() -> dict[str, Any]:
    """``stacks/offline-overrides.yaml``'s ``config:`` block (empty when the file is absent)."""
    path = stacks_dir() / OVERRIDES_FILE
    return _read_config_block(path) if path.is_file() else {}


def apply_overrides(values: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Apply ``overrides`` on top of a stack file's config: a plain key is set on every stack; an
    object key is deep-merged into the stack's own object of that key, and skipped by stacks that
    do not have that object (``stratus:azure`` does not land in an AWS stack)."""
    merged = dict(values)
    for key, value in overrides.items():
        if isinstance(value, Mapping):
            if isinstance(merged.get(key), Mapping):
                merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def stack_values(stack: str, *, with_overrides: bool = True) -> dict[str, Any]:
    """The stack file's ``config:`` block as YAML values, with the offline example values of
    ``stacks/offline-overrides.yaml`` applied on top."""
    path = stacks_dir() / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = ", ".join(shipped_stacks()) or "none"
        raise OfflineError(f"unknown stack {stack!r}: no {path} (shipped stacks: {known})")
    values = _read_config_block(path)
    if with_overrides:
        values = apply_overrides(values, offline_overrides())
    return values


def encode_config(values: Mapping[str, Any]) -> dict[str, str]:
    """Config values as the Pulumi engine hands them to a program (objects as JSON)."""
    config: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and "secure" in value:
            value = "decrypted-" + key  # a stand-in for an encrypted value
        config[key] = value if isinstance(value, str) else json.dumps(value)
    return config


def stack_config(stack: str, *, with_overrides: bool = True) -> dict[str, str]:
    """The stack's config as the Pulumi engine hands it to the program, offline overrides
    applied (see :func:`stack_values`)."""
    return encode_config(stack_values(stack, with_overrides=with_overrides))


def _qualified_stack(reference: str) -> str:
    """``org/project/stack`` (or ``stack``) → the stack's short name."""
    return reference.rsplit("/", 1)[-1]


_RUNS: dict[tuple[str, str, tuple[tuple[str, str], ...]], StackRun] = {}


def run_stack(
    stack: str,
    *,
    config: Mapping[str, str] | None = None,
    override: Mapping[str, Any] | None = None,
    project: str = "stratus",
    references: Mapping[str, StackRun] | None = None,
) -> StackRun:
    """Run ``platform/__main__.py`` for ``stack`` under mocks and return what it registered.

    ``config`` replaces the stack's config entirely; ``override`` sets single keys on top of it
    (values that are not strings are JSON-encoded, as structured config is). A ``StackReference``
    to ``org/project/<name>`` is answered from ``references[<name>]`` when given, else from an
    offline run of the shipped stack ``<name>``. Runs of a shipped stack as shipped (no
    ``config``, ``override`` or ``references``) are cached per process: the program is
    deterministic for a given config, and callers only read the result.

    Ctrl-C or SIGTERM during the run stops the program at its next safe point and is delivered
    once the run is over (``infra.offline.interrupts``).
    """
    with deferred_interrupts():
        return _run_stack(stack, config, override, project, references)


def _run_stack(
    stack: str,
    config: Mapping[str, str] | None,
    override: Mapping[str, Any] | None,
    project: str,
    references: Mapping[str, StackRun] | None,
) -> StackRun:
    if config is None and override is None and references is None:
        return _cached_run(stack, project)
    values = dict(config) if config is not None else stack_config(stack)
    values.update(encode_config(override or {}))

    resolved: dict[str, _Reference] = {}
    given = dict(references or {})
    attempts = 0
    while True:
        attempts += 1
        mocks = _Mocks(resolved)
        try:
            run = _run_once(stack, values, project, mocks)
        except RunInterruptedError:
            raise
        except Exception:
            if not mocks.missing:
                raise
            run = None
        if not mocks.missing:
            assert run is not None
            return run
        if attempts > 8:
            raise OfflineError(f"{stack}: stack references do not settle: {mocks.missing}")
        for qualified in mocks.missing:
            name = _qualified_stack(qualified)
            if name == stack:
                raise OfflineError(f"{stack} references itself ({qualified})")
            target = given.get(name) or _cached_run(name, project)
            resolved[qualified] = _Reference(target.outputs, target.secret_outputs)


def _cached_run(stack: str, project: str) -> StackRun:
    values = stack_config(stack)
    key = (stack, project, tuple(sorted(values.items())))
    if key not in _RUNS:
        _RUNS[key] = run_stack(stack, config=values, project=project)
    return _RUNS[key]


def _run_once(stack: str, values: Mapping[str, str], project: str, mocks: _Mocks) -> StackRun:
    # Other code (asyncio.run, anyio portals) may have closed or unset this thread's loop; the
    # Pulumi runtime drives the program on the thread's current loop.
    asyncio.set_event_loop(asyncio.new_event_loop())
    settings.reset_options()
    pulumi.runtime.set_all_config(dict(values))
    monitor = _CapturingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    root = settings.get_root_resource()
    pulumi.runtime.register_stack_transformation(stop_before_construction)

    program = program_path()

    def program_main() -> None:
        runpy.run_path(str(program), run_name="__main__")

    _sync_await(run_pulumi_func(program_main))

    resolved: dict[str, Any] = {}
    secret_outputs: set[str] = set()
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
        config=dict(values),
    )
