"""Azure Traffic Manager: a profile with endpoint monitoring, one external endpoint per cloud, and
the host as a CNAME to the profile in an Azure DNS zone.

A profile cannot mix external endpoints whose targets are DNS names with ones whose targets are
IPs; when the clouds export both (the AWS NLB's name, Azure's IP), each IP gets an ``A`` record
``endpoint-<name>.<zone>`` and the profile targets that name.

Traffic Manager probes each endpoint itself with the host as ``Host`` header (a custom header), so
DNS-name endpoints (AWS load balancers) and IP endpoints (Azure's) are probed through the ingress
alike. ``active-active`` is the ``Weighted`` method, ``primary-secondary`` the ``Priority`` method
(1 = primary). An endpoint is degraded after ``failureThreshold`` consecutive failures
(``toleratedNumberOfFailures`` = threshold - 1). The CNAME never changes: failover happens in
Traffic Manager's answers, cached for ``ttlSeconds``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.dns as dns
import pulumi_azure_native.trafficmanager as trafficmanager

from infra.traffic.plan import RoutingPlan

#: The CNAME to the profile points at a name that never changes.
CNAME_TTL_SECONDS = 3600
METHODS = {"active-active": "Weighted", "primary-secondary": "Priority"}


@dataclass(frozen=True)
class TrafficManagerRoutingArgs:
    plan: RoutingPlan
    #: The profile's resource group (and the zone's, unless an existing zone is named).
    resource_group_name: pulumi.Input[str]
    #: The profile's DNS label in ``trafficmanager.net`` (globally unique).
    relative_name: pulumi.Input[str]
    #: The zone holding the host: created in ``resource_group_name`` unless ``zone_group`` names
    #: the resource group of an existing one.
    zone_name: str
    zone_group: str | None
    tags: Mapping[str, str]


class TrafficManagerRouting(pulumi.ComponentResource):
    fqdn: pulumi.Output[str]
    #: Name servers of a zone the stack created (delegate the zone to them), else ``None``.
    name_servers: pulumi.Output[Sequence[str]] | None

    def __init__(
        self,
        name: str,
        args: TrafficManagerRoutingArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("stratus:traffic:TrafficManagerRouting", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        zone_group, zone_name = self._zone()
        targets = self._endpoint_targets(zone_group, zone_name)
        profile = self._profile()
        self._endpoints(profile, targets)
        self.fqdn = profile.dns_config.apply(lambda config: str(config.fqdn) if config else "")
        dns.RecordSet(
            f"{name}-cname",
            resource_group_name=zone_group,
            zone_name=zone_name,
            relative_record_set_name=relative_name(args.plan.host, args.zone_name),
            record_type="CNAME",
            ttl=CNAME_TTL_SECONDS,
            cname_record=dns.CnameRecordArgs(cname=self.fqdn),
            opts=self._child,
        )
        self.register_outputs({"fqdn": self.fqdn})

    def _zone(self) -> tuple[pulumi.Input[str], pulumi.Input[str]]:
        args = self._args
        if args.zone_group is not None:
            self.name_servers = None
            return args.zone_group, args.zone_name
        zone = dns.Zone(
            f"{self._name}-zone",
            resource_group_name=args.resource_group_name,
            zone_name=args.zone_name,
            location="global",
            zone_type=dns.ZoneType.PUBLIC,
            tags=dict(args.tags),
            opts=self._child,
        )
        self.name_servers = zone.name_servers
        return args.resource_group_name, zone.name

    def _endpoint_targets(
        self, zone_group: pulumi.Input[str], zone_name: pulumi.Input[str]
    ) -> dict[str, str]:
        """Endpoint → the target Traffic Manager answers with. A profile cannot mix DNS-name and
        IP targets, so when both occur each IP gets an ``A`` record in the zone and the profile
        names that record instead."""
        plan = self._args.plan
        kinds = {route.target.kind == "ip" for route in plan.routes}
        targets = {route.target.name: route.target.address for route in plan.routes}
        if len(kinds) == 1:
            return targets
        for route in plan.routes:
            if route.target.kind != "ip":
                continue
            label = endpoint_label(route.target.name)
            dns.RecordSet(
                f"{self._name}-{route.target.name}-a",
                resource_group_name=zone_group,
                zone_name=zone_name,
                relative_record_set_name=label,
                record_type="A",
                ttl=plan.ttl_seconds,
                a_records=[dns.ARecordArgs(ipv4_address=route.target.address)],
                opts=self._child,
            )
            targets[route.target.name] = f"{label}.{self._args.zone_name}"
        return targets

    def _profile(self) -> trafficmanager.Profile:
        plan, health = self._args.plan, self._args.plan.health
        return trafficmanager.Profile(
            f"{self._name}-profile",
            resource_group_name=self._args.resource_group_name,
            location="global",
            profile_status="Enabled",
            traffic_routing_method=METHODS[plan.strategy],
            traffic_view_enrollment_status="Disabled",
            dns_config=trafficmanager.DnsConfigArgs(
                relative_name=self._args.relative_name, ttl=plan.ttl_seconds
            ),
            monitor_config=trafficmanager.MonitorConfigArgs(
                protocol=health.protocol,
                port=health.port,
                path=health.path,
                interval_in_seconds=health.interval_seconds,
                timeout_in_seconds=health.timeout_seconds,
                tolerated_number_of_failures=health.failures_to_unhealthy - 1,
                custom_headers=[
                    trafficmanager.MonitorConfigCustomHeadersItemArgs(name="Host", value=plan.host)
                ],
                expected_status_code_ranges=[
                    trafficmanager.MonitorConfigExpectedStatusCodeRangesItemArgs(min=200, max=299)
                ],
            ),
            tags=dict(self._args.tags),
            opts=self._child,
        )

    def _endpoints(self, profile: trafficmanager.Profile, targets: dict[str, str]) -> None:
        plan = self._args.plan
        weighted = plan.strategy == "active-active"
        for route in plan.routes:
            trafficmanager.Endpoint(
                f"{self._name}-{route.target.name}",
                resource_group_name=self._args.resource_group_name,
                profile_name=profile.name,
                endpoint_type="ExternalEndpoints",
                endpoint_name=route.target.name,
                type="Microsoft.Network/trafficManagerProfiles/externalEndpoints",
                target=targets[route.target.name],
                endpoint_status="Enabled",
                always_serve="Disabled",
                weight=route.weight if weighted else None,
                priority=None if weighted else route.priority,
                opts=self._child,
            )


def endpoint_label(endpoint: str) -> str:
    """The zone label naming an IP endpoint for Traffic Manager (``endpoint-azure-prod-apps``)."""
    return f"endpoint-{endpoint}"


def relative_name(host: str, zone: str) -> str:
    """``ml-api`` for ``ml-api.dev.ml.example.org`` in ``dev.ml.example.org``."""
    if not host.endswith("." + zone):
        raise ValueError(f"{host} is not inside the zone {zone} (a CNAME cannot be at the apex)")
    return host.removesuffix("." + zone)
