"""Azure Traffic Manager: a profile with endpoint monitoring, one external endpoint per cloud, and
the host as a CNAME to the profile in an Azure DNS zone.

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
        plan = args.plan
        health = plan.health
        child = pulumi.ResourceOptions(parent=self)
        profile = trafficmanager.Profile(
            f"{name}-profile",
            resource_group_name=args.resource_group_name,
            location="global",
            profile_status="Enabled",
            traffic_routing_method=METHODS[plan.strategy],
            traffic_view_enrollment_status="Disabled",
            dns_config=trafficmanager.DnsConfigArgs(
                relative_name=args.relative_name, ttl=plan.ttl_seconds
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
            tags=dict(args.tags),
            opts=child,
        )
        for route in plan.routes:
            weighted = plan.strategy == "active-active"
            trafficmanager.Endpoint(
                f"{name}-{route.target.name}",
                resource_group_name=args.resource_group_name,
                profile_name=profile.name,
                endpoint_type="ExternalEndpoints",
                endpoint_name=route.target.name,
                type="Microsoft.Network/trafficManagerProfiles/externalEndpoints",
                target=route.target.address,
                endpoint_status="Enabled",
                always_serve="Disabled",
                weight=route.weight if weighted else None,
                priority=None if weighted else route.priority,
                opts=child,
            )
        self.fqdn = profile.dns_config.apply(lambda config: str(config.fqdn) if config else "")

        zone_group: pulumi.Input[str]
        if args.zone_group is None:
            zone = dns.Zone(
                f"{name}-zone",
                resource_group_name=args.resource_group_name,
                zone_name=args.zone_name,
                location="global",
                zone_type=dns.ZoneType.PUBLIC,
                tags=dict(args.tags),
                opts=child,
            )
            zone_group = args.resource_group_name
            zone_name: pulumi.Input[str] = zone.name
            self.name_servers = zone.name_servers
        else:
            zone_group, zone_name, self.name_servers = args.zone_group, args.zone_name, None
        dns.RecordSet(
            f"{name}-cname",
            resource_group_name=zone_group,
            zone_name=zone_name,
            relative_record_set_name=relative_name(plan.host, args.zone_name),
            record_type="CNAME",
            ttl=CNAME_TTL_SECONDS,
            cname_record=dns.CnameRecordArgs(cname=self.fqdn),
            opts=child,
        )
        self.register_outputs({"fqdn": self.fqdn})


def relative_name(host: str, zone: str) -> str:
    """``ml-api`` for ``ml-api.dev.ml.example.org`` in ``dev.ml.example.org``."""
    if not host.endswith("." + zone):
        raise ValueError(f"{host} is not inside the zone {zone} (a CNAME cannot be at the apex)")
    return host.removesuffix("." + zone)
