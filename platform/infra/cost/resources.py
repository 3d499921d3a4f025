"""From an offline stack run to what it will be billed for.

:func:`usage_of` walks every resource :func:`infra.offline.run_stack` captured and hands each
custom resource to the mapper registered for its type (:mod:`infra.cost.aws_resources`,
:mod:`infra.cost.azure_resources`), which returns its priced dimensions (:class:`UsageLine`) and
the charges it leaves out (:class:`Unpriced`). A type with no mapper is listed as unpriced ("no
price mapping"), so a gap is visible rather than silently zero. Each line belongs to a
*component*: the outermost ``stratus:*`` component resource above it (``Cluster
stratus-prod-cluster``), or ``stack`` for resources at the top.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.cost.model import Cloud, Unpriced, UsageLine
from infra.offline import Registered, StackRun

Mapper = Callable[[Registered, "StackContext"], "Mapped"]
_MAPPERS: dict[str, Mapper] = {}
#: Types with no charge of their own (configuration, identity, networking plumbing): counted in
#: one summary line instead of listed one by one.
_NO_CHARGE: dict[str, str] = {}


@dataclass(frozen=True)
class Assumptions:
    """Usage a stack's code cannot know: given on the command line, shown in the report."""

    #: GB stored in each data bucket (AWS) / each blob container (Azure).
    storage_gb: float = 100.0
    #: GB of logs ingested per month by the whole stack (split evenly over its log sinks).
    log_gb: float = 10.0


@dataclass
class Mapped:
    lines: list[UsageLine] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)


def maps(*resource_types: str) -> Callable[[Mapper], Mapper]:
    """Register a mapper for resource type tokens."""

    def register(fn: Mapper) -> Mapper:
        for resource_type in resource_types:
            _MAPPERS[resource_type] = fn
        return fn

    return register


def no_charge(reason: str, *resource_types: str) -> None:
    for resource_type in resource_types:
        _NO_CHARGE[resource_type] = reason


@dataclass
class StackContext:
    """What mappers need besides the resource: the stack's cloud, region and assumptions."""

    run: StackRun
    cloud: Cloud
    region: str
    assumptions: Assumptions
    _by_urn: dict[str, Registered] = field(default_factory=dict)
    _by_name: dict[str, Registered] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_urn = self.run.by_urn()
        self._by_name = {r.name: r for r in self.run.resources}

    def component_of(self, resource: Registered) -> str:
        """``<Kind> <name>`` of the outermost ``stratus:*`` component above ``resource``."""
        outermost: Registered | None = None
        current: Registered | None = resource
        while current is not None:
            if current.type.startswith("stratus:"):
                outermost = current
            current = self._by_urn.get(current.parent) if current.parent else None
        if outermost is None:
            return "stack"
        return f"{outermost.type.rsplit(':', 1)[-1]} {outermost.name}"

    def named(self, name: str) -> Registered | None:
        return self._by_name.get(name)

    def by_mock_id(self, resource_id: str) -> Registered | None:
        """The resource an input id points at (offline runs give ``<name>-id``)."""
        return self._by_name.get(resource_id.removesuffix("-id"))

    def children(self, component: str, resource_type: str) -> list[Registered]:
        return [r for r in self.run.of_type(resource_type) if self.component_of(r) == component]

    def count(self, resource_type: str) -> int:
        return len(self.run.of_type(resource_type))


def stack_cloud_and_region(run: StackRun) -> tuple[Cloud, str]:
    """The stack's cloud and default region, from its config (``aws:region`` or
    ``azure-native:location``); an ``-apps`` stack is priced in its foundation's region."""
    config: Mapping[str, Any] = run.config
    if "aws:region" in config:
        return "aws", str(config["aws:region"])
    if "azure-native:location" in config:
        from infra.cost.azure_prices import normalize_region

        return "azure", normalize_region(str(config["azure-native:location"]))
    if run.stack.endswith("-apps"):
        # An in-cluster stack runs in its foundation's region.
        from infra.offline import encode_config, stack_values

        foundation = run.stack.removesuffix("-apps")
        return stack_cloud_and_region(
            StackRun(
                stack=foundation,
                resources=[],
                outputs={},
                config=encode_config(stack_values(foundation)),
            )
        )
    raise ValueError(f"{run.stack}: cannot tell which cloud and region it runs in")


@dataclass
class StackUsage:
    stack: str
    cloud: Cloud
    region: str
    lines: list[UsageLine]
    unpriced: list[Unpriced]
    #: Resources with no charge of their own, per reason.
    no_charge: dict[str, int]


def usage_of(run: StackRun, assumptions: Assumptions, *, region: str | None = None) -> StackUsage:
    """Every priced dimension and every unpriced charge of ``run``'s resources."""
    from infra.cost import aws_resources, azure_resources  # noqa: F401 - register mappers

    cloud, default_region = stack_cloud_and_region(run)
    context = StackContext(run, cloud, region or default_region, assumptions)
    lines: list[UsageLine] = []
    unpriced: list[Unpriced] = []
    no_charge: dict[str, int] = {}
    for resource in run.resources:
        if not resource.custom or resource.type.startswith("pulumi:providers:"):
            continue
        mapper = _MAPPERS.get(resource.type)
        if mapper is not None:
            mapped = mapper(resource, context)
            lines += mapped.lines
            unpriced += mapped.unpriced
            continue
        reason = _NO_CHARGE.get(resource.type)
        if reason is None and resource.type.startswith("kubernetes:"):
            reason = "Kubernetes objects (run on the nodes priced above)"
        if reason is not None:
            no_charge[reason] = no_charge.get(reason, 0) + 1
            continue
        unpriced.append(
            Unpriced(
                context.component_of(resource), resource.type, resource.name, "no price mapping"
            )
        )
    return StackUsage(run.stack, cloud, context.region, lines, unpriced, no_charge)
