"""Route 53: the hosted zone, a health check per endpoint, and the records of the strategy.

Every endpoint is probed with HTTPS on the ML API's health route *through its ingress*: Route 53
sends the host name as Host header and SNI only when it probes an IP, so

* an IP endpoint (Azure's load balancer) gets one check on that IP;
* an AWS Network Load Balancer gets one check per load balancer node IP (its static public IP in
  each zone, looked up from the load balancer's network interfaces) and a ``CALCULATED`` check,
  healthy while any node is, which is the endpoint's check;
* any other DNS name gets one check on that name (which then is the Host header).

Records: IPs are ``A`` records, AWS load balancers ``A`` aliases (their answers carry the load
balancer's 60 s TTL), other DNS names ``CNAME`` records (which cannot share a name with ``A``
records). ``active-active``: weighted records, one per endpoint, each health-checked.
``primary-secondary``: failover records, the PRIMARY health-checked; with more than two endpoints
the SECONDARY is an alias to the next failover pair (``failover-2.<host>`` ...). With
``latencyRouting``, latency aliases per region point at ``<region>.<host>``, where the strategy's
records of that region's endpoints live.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.config import StratusConfigError
from infra.traffic.config import Route53ZoneConfig
from infra.traffic.plan import Route, RoutingPlan, load_balancer_name


@dataclass(frozen=True)
class Route53RoutingArgs:
    plan: RoutingPlan
    zone: Route53ZoneConfig
    #: The zone the stack creates when ``zone.zoneId`` is unset (the host's parent domain).
    zone_name: str
    tags: Mapping[str, str]


def record_kind(route: Route) -> str:
    """The record type an endpoint's answer needs (``A`` or ``CNAME``)."""
    return "CNAME" if route.target.kind == "dns" else "A"


class Route53Routing(pulumi.ComponentResource):
    zone_id: pulumi.Output[str]
    #: Name servers of a zone the stack created (delegate the zone to them), else ``None``.
    name_servers: pulumi.Output[Sequence[str]] | None
    #: Endpoint name → the id of the health check its records carry.
    health_check_ids: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: Route53RoutingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:traffic:Route53Routing", name, None, opts)
        self._name = name
        self._args = args
        self._plan = args.plan
        self._lb_zones: dict[str, str] = {}
        for group in self._plan.groups().values():
            kinds = {record_kind(route) for route in group}
            if len(kinds) > 1:
                listed = ", ".join(f"{r.target.name}: {r.target.address}" for r in group)
                raise StratusConfigError(
                    f"{self._plan.host}: a CNAME (for a DNS name that is not an AWS load "
                    f"balancer) cannot share its name with A records ({listed})"
                )
        self.zone_id, self.name_servers = self._zone()
        self.health_check_ids = {
            route.target.name: self._health_check(route) for route in self._plan.routes
        }
        self._records()
        self.register_outputs(
            {"zoneId": self.zone_id, "healthCheckIds": dict(self.health_check_ids)}
        )

    # --- the zone ----------------------------------------------------------------------------

    def _zone(self) -> tuple[pulumi.Output[str], pulumi.Output[Sequence[str]] | None]:
        existing = self._args.zone.zone_id
        if existing is not None:
            found = aws.route53.get_zone(zone_id=existing, opts=pulumi.InvokeOptions(parent=self))
            zone_name = found.name.rstrip(".")
            host = self._plan.host
            if host != zone_name and not host.endswith("." + zone_name):
                raise StratusConfigError(
                    f"stratus:global.traffic.route53.zoneId: {existing} is the zone {zone_name}, "
                    f"which cannot hold {host}"
                )
            return pulumi.Output.from_input(existing), None
        zone = aws.route53.Zone(
            f"{self._name}-zone",
            name=self._args.zone_name,
            comment=f"Stratus: {self._plan.host} ({self._plan.provider}, {self._plan.strategy})",
            tags=dict(self._args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return zone.zone_id, zone.name_servers

    # --- health checks -----------------------------------------------------------------------

    def _check(self, suffix: str, **target: Any) -> aws.route53.HealthCheck:
        policy = self._plan.health
        return aws.route53.HealthCheck(
            f"{self._name}-{suffix}",
            type=policy.protocol,
            port=policy.port,
            resource_path=policy.path,
            request_interval=policy.interval_seconds,
            failure_threshold=policy.failures_to_unhealthy,
            regions=list(policy.regions),
            enable_sni=True,
            tags=dict(self._args.tags),
            opts=pulumi.ResourceOptions(parent=self),
            **target,
        )

    def _health_check(self, route: Route) -> pulumi.Output[str]:
        target = route.target
        if target.kind == "ip":
            check = self._check(f"{target.name}-check", ip_address=target.address, fqdn=target.host)
            return check.id
        if target.kind == "dns":
            return self._check(f"{target.name}-check", fqdn=target.address).id
        nodes = [
            self._check(f"{target.name}-node-{index}-check", ip_address=ip, fqdn=target.host)
            for index, ip in enumerate(self._load_balancer_ips(route))
        ]
        calculated = aws.route53.HealthCheck(
            f"{self._name}-{target.name}-check",
            type="CALCULATED",
            child_healthchecks=[node.id for node in nodes],
            child_health_threshold=1,
            tags=dict(self._args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return calculated.id

    def _load_balancer_ips(self, route: Route) -> list[str]:
        """The public IPs of an AWS Network Load Balancer's nodes (static for its lifetime)."""
        lb = load_balancer_name(route.target.address)
        assert lb is not None
        invoke = pulumi.InvokeOptions(parent=self)
        interfaces = aws.ec2.get_network_interfaces(
            filters=[
                aws.ec2.GetNetworkInterfacesFilterArgs(
                    name="description", values=[lb.interface_description]
                )
            ],
            region=lb.region,
            opts=invoke,
        )
        ips: list[str] = []
        for interface_id in sorted(interfaces.ids):
            interface = aws.ec2.get_network_interface(
                id=interface_id, region=lb.region, opts=invoke
            )
            ips += [a.public_ip for a in interface.associations if a.public_ip]
        if not ips:
            raise StratusConfigError(
                f"endpoint {route.target.name}: the load balancer {route.target.address} has no "
                "public IP (is it internal?); the global name needs an internet-facing one"
            )
        return ips

    # --- records -----------------------------------------------------------------------------

    def _answer(self, route: Route) -> dict[str, Any]:
        target = route.target
        if target.kind == "aws-load-balancer":
            lb = load_balancer_name(target.address)
            assert lb is not None
            if lb.region not in self._lb_zones:
                self._lb_zones[lb.region] = aws.lb.get_hosted_zone_id(
                    load_balancer_type="network",
                    region=lb.region,
                    opts=pulumi.InvokeOptions(parent=self),
                ).id
            return {
                "type": "A",
                "aliases": [
                    aws.route53.RecordAliasArgs(
                        name=target.address,
                        zone_id=self._lb_zones[lb.region],
                        evaluate_target_health=True,
                    )
                ],
            }
        return {
            "type": record_kind(route),
            "ttl": self._plan.ttl_seconds,
            "records": [target.address],
        }

    def _alias_to(self, record_name: str, kind: str) -> dict[str, Any]:
        return {
            "type": kind,
            "aliases": [
                aws.route53.RecordAliasArgs(
                    name=record_name, zone_id=self.zone_id, evaluate_target_health=True
                )
            ],
        }

    def _record(self, suffix: str, record_name: str, **values: Any) -> aws.route53.Record:
        return aws.route53.Record(
            f"{self._name}-{suffix}",
            zone_id=self.zone_id,
            name=record_name,
            opts=pulumi.ResourceOptions(parent=self),
            **values,
        )

    def _records(self) -> None:
        plan = self._plan
        if not plan.latency_routing:
            self._strategy_records(plan.host, list(plan.routes), "")
            return
        for region, group in plan.groups().items():
            assert region is not None
            group_name = f"{region}.{plan.host}"
            self._record(
                f"latency-{region}",
                plan.host,
                set_identifier=region,
                latency_routing_policies=[
                    aws.route53.RecordLatencyRoutingPolicyArgs(region=region)
                ],
                **self._alias_to(group_name, record_kind(group[0])),
            )
            self._strategy_records(group_name, group, f"{region}-")

    def _strategy_records(self, record_name: str, routes: list[Route], prefix: str) -> None:
        checks = self.health_check_ids
        if self._plan.strategy == "active-active" or len(routes) == 1:
            for route in routes:
                self._record(
                    f"{prefix}{route.target.name}",
                    record_name,
                    set_identifier=route.target.name,
                    weighted_routing_policies=[
                        aws.route53.RecordWeightedRoutingPolicyArgs(weight=route.weight)
                    ],
                    health_check_id=checks[route.target.name],
                    **self._answer(route),
                )
            return
        ordered = sorted(routes, key=lambda r: r.priority)
        level_name = record_name
        for level, primary in enumerate(ordered[:-1], start=1):
            rest = ordered[level:]
            self._failover(prefix, level, "PRIMARY", level_name, primary.target.name, primary)
            if len(rest) == 1:
                self._failover(prefix, level, "SECONDARY", level_name, rest[0].target.name, rest[0])
            else:
                next_name = f"failover-{level + 1}.{record_name}"
                self._failover(
                    prefix,
                    level,
                    "SECONDARY",
                    level_name,
                    f"failover-{level + 1}",
                    None,
                    **self._alias_to(next_name, record_kind(primary)),
                )
                level_name = next_name

    def _failover(
        self,
        prefix: str,
        level: int,
        role: str,
        record_name: str,
        identifier: str,
        route: Route | None,
        **alias: Any,
    ) -> None:
        """One failover record: an endpoint's answer with its health check, or (``route`` is
        ``None``) an alias to the next failover pair."""
        answer = (
            alias
            if route is None
            else {
                "health_check_id": self.health_check_ids[route.target.name],
                **self._answer(route),
            }
        )
        self._record(
            f"{prefix}failover-{level}-{role.lower()}",
            record_name,
            set_identifier=f"{identifier}-{role.lower()}",
            failover_routing_policies=[aws.route53.RecordFailoverRoutingPolicyArgs(type=role)],
            **answer,
        )
