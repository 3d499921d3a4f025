"""The routing plan: what the global layer tells DNS, computed once from the config and the
endpoints, and read by everything that needs it — the Route 53 and Traffic Manager components, the
stack outputs, and the failover drill's resolver (:mod:`infra.traffic.drill`), so the drill plays
exactly the weights, priorities, health-check numbers and TTL the stack deploys.

It also states the providers' health semantics the drill imitates: an endpoint turns unhealthy
after ``failureThreshold`` consecutive failed probes on both providers (Traffic Manager's
``toleratedNumberOfFailures`` is one less), and healthy again after ``failureThreshold``
consecutive successes on Route 53 or one success on Traffic Manager; when every endpoint is
unhealthy both answer as if all were healthy (fail open).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from infra.config import StratusConfigError
from infra.traffic.config import GlobalConfig, Provider, Strategy
from infra.traffic.rto import RtoBudget

#: What Route 53 answers carry for an alias to an AWS load balancer (the ELB record's TTL).
AWS_ALIAS_TTL_SECONDS = 60
#: Route 53's own probe limits: 4 s to connect, then 2 s for the first bytes of the answer.
ROUTE53_PROBE_TIMEOUT_SECONDS = 6

#: ``<name>-<id>.elb.<region>.amazonaws.com``: a Network Load Balancer's DNS name.
_NLB_NAME = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9-]{0,31})-(?P<id>[0-9a-f]{16})\.elb\."
    r"(?P<region>[a-z]{2}(-gov)?-[a-z]+-\d)\.amazonaws\.com$"
)

AddressKind = Literal["ip", "aws-load-balancer", "dns"]
FailoverRole = Literal["PRIMARY", "SECONDARY"]


@dataclass(frozen=True)
class LoadBalancerName:
    """The parts of an AWS Network Load Balancer's DNS name."""

    name: str
    id: str
    region: str

    @property
    def interface_description(self) -> str:
        """How AWS describes the load balancer's network interfaces (one per zone)."""
        return f"ELB net/{self.name}/{self.id}"


def load_balancer_name(address: str) -> LoadBalancerName | None:
    match = _NLB_NAME.match(address)
    if match is None:
        return None
    return LoadBalancerName(match["name"], match["id"], match["region"])


@dataclass(frozen=True)
class Target:
    """Where one endpoint is reached: an ``-apps`` stack's ingress (or, in the drill, a local
    process standing in for it)."""

    name: str
    cloud: str
    #: The ingress address: a DNS name (AWS NLB) or an IP (Azure load balancer).
    address: str
    #: The one host every endpoint serves (Host header and SNI of every probe).
    host: str
    health_path: str
    health_port: int

    @property
    def kind(self) -> AddressKind:
        try:
            ipaddress.ip_address(self.address)
            return "ip"
        except ValueError:
            pass
        return "aws-load-balancer" if load_balancer_name(self.address) else "dns"


@dataclass(frozen=True)
class HealthPolicy:
    """The probe every endpoint gets, and when its status flips."""

    protocol: Literal["HTTPS"]
    path: str
    port: int
    interval_seconds: int
    failures_to_unhealthy: int
    successes_to_healthy: int
    timeout_seconds: int
    regions: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    target: Target
    weight: int
    #: 1 = the primary; the failover order of ``primary-secondary``.
    priority: int
    role: FailoverRole | None
    latency_region: str | None


@dataclass(frozen=True)
class RoutingPlan:
    host: str
    provider: Provider
    strategy: Strategy
    latency_routing: bool
    #: The TTL records are written with.
    ttl_seconds: int
    health: HealthPolicy
    routes: tuple[Route, ...]
    rto: RtoBudget

    def route(self, name: str) -> Route:
        for route in self.routes:
            if route.target.name == name:
                return route
        raise KeyError(name)

    def groups(self) -> dict[str | None, list[Route]]:
        """Routes per latency region (one group, ``None``, without latency routing)."""
        grouped: dict[str | None, list[Route]] = {}
        for route in self.routes:
            key = route.latency_region if self.latency_routing else None
            grouped.setdefault(key, []).append(route)
        return grouped

    def shares(self, healthy: Collection[str], region: str | None = None) -> dict[str, float]:
        """The fraction of fresh answers naming each endpoint, given the healthy ones.

        Active-active splits by weight among the healthy endpoints; primary-secondary answers
        the healthy endpoint with the lowest priority. With latency routing a client's answer
        comes from its ``region``'s group while that group has a healthy endpoint, else from all
        groups. When no candidate is healthy the providers fail open (all count as healthy).
        """
        candidates = list(self.routes)
        if self.latency_routing and region is not None:
            local = self.groups().get(region, [])
            if any(r.target.name in healthy for r in local):
                candidates = local
        alive = [r for r in candidates if r.target.name in healthy] or candidates
        if self.strategy == "primary-secondary":
            first = min(alive, key=lambda r: r.priority)
            return {r.target.name: (1.0 if r is first else 0.0) for r in self.routes}
        total = sum(r.weight for r in alive)
        return {
            r.target.name: (r.weight / total if r in alive and total else 0.0) for r in self.routes
        }


def health_policy(config: GlobalConfig, path: str, port: int) -> HealthPolicy:
    check = config.traffic.health_check
    route53 = config.traffic.provider == "route53"
    return HealthPolicy(
        protocol="HTTPS",
        path=check.path or path,
        port=port,
        interval_seconds=check.interval_seconds,
        failures_to_unhealthy=check.failure_threshold,
        successes_to_healthy=check.failure_threshold if route53 else 1,
        timeout_seconds=ROUTE53_PROBE_TIMEOUT_SECONDS if route53 else check.timeout_seconds,
        regions=tuple(check.regions),
    )


def effective_ttl(config: GlobalConfig, targets: Collection[Target]) -> tuple[int, str]:
    """The longest TTL a client may cache an answer for, and why it is not the configured one."""
    ttl = config.traffic.ttl_seconds
    aliased = any(t.kind == "aws-load-balancer" for t in targets)
    if config.traffic.provider == "route53" and aliased and ttl < AWS_ALIAS_TTL_SECONDS:
        return AWS_ALIAS_TTL_SECONDS, "alias answers for AWS load balancers carry 60 s"
    return ttl, ""


def build_plan(config: GlobalConfig, targets: Mapping[str, Target]) -> RoutingPlan:
    """The plan for ``targets`` (endpoint name → where it is reached), validated against the RTO
    with the TTL clients will really see."""
    missing = [e.name for e in config.endpoints if e.name not in targets]
    if missing:
        raise KeyError(f"no target for endpoint(s) {', '.join(missing)}")
    ordered = config.ordered
    first = targets[ordered[0].name]
    paths = {targets[e.name].health_path for e in ordered}
    ports = {targets[e.name].health_port for e in ordered}
    if len(paths) != 1 or len(ports) != 1:
        raise StratusConfigError(
            "the -apps stacks' output 'healthUrl' differ in path or port: "
            + ", ".join(
                f"{e.name}: {targets[e.name].health_path}:{targets[e.name].health_port}"
                for e in ordered
            )
        )
    latency = config.traffic.latency_routing
    roles: dict[str, FailoverRole | None] = {}
    if config.traffic.strategy == "primary-secondary":
        seen_groups: set[str | None] = set()
        for endpoint in ordered:
            group = endpoint.latency_region if latency else None
            roles[endpoint.name] = "SECONDARY" if group in seen_groups else "PRIMARY"
            seen_groups.add(group)
    routes = tuple(
        Route(
            target=targets[endpoint.name],
            weight=endpoint.weight,
            priority=index + 1,
            role=roles.get(endpoint.name),
            latency_region=endpoint.latency_region,
        )
        for index, endpoint in enumerate(ordered)
    )
    ttl, note = effective_ttl(config, list(targets.values()))
    return RoutingPlan(
        host=first.host,
        provider=config.traffic.provider,
        strategy=config.traffic.strategy,
        latency_routing=latency,
        ttl_seconds=config.traffic.ttl_seconds,
        health=health_policy(config, first.health_path, first.health_port),
        routes=routes,
        rto=RtoBudget.of(config.traffic, ttl_seconds=ttl, ttl_note=note),
    )
