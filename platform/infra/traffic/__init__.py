"""The cross-cloud traffic layer (``global-<env>`` stacks).

It reads the ``-apps`` stacks listed in ``stratus:global.endpoints`` through ``StackReference``s
(``<stratus:pulumiOrg>/<project>/<stack>``, :mod:`infra.traffic.endpoints`), checks they serve the
same host, computes the routing plan (:mod:`infra.traffic.plan`: weights, priorities, health
checks, TTL, and the RTO sum it must meet) and deploys it on Route 53 or Azure Traffic Manager.
With ``vpn.enabled`` it joins each configured pair of foundations (read through the foundation
contract) with a site-to-site VPN (:mod:`infra.traffic.vpn`).
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.resources as resources

from infra.azure.config import read_location
from infra.azure.naming import unique_suffix
from infra.config import NAMESPACE, StackIdentity, read_pulumi_org
from infra.foundation import reference_foundation
from infra.traffic.config import GlobalConfig, read_global_config, split_stack_reference
from infra.traffic.endpoints import common_host, reference_endpoint
from infra.traffic.plan import RoutingPlan, Target, build_plan
from infra.traffic.route53 import Route53Routing, Route53RoutingArgs
from infra.traffic.traffic_manager import TrafficManagerRouting, TrafficManagerRoutingArgs
from infra.traffic.vpn import (
    CrossCloudVpn,
    CrossCloudVpnArgs,
    aws_side,
    azure_side,
    check_address_plan,
)


def parent_domain(host: str) -> str:
    """``prod.ml.example.org`` for ``ml-api.prod.ml.example.org``."""
    return host.split(".", 1)[1]


def read_targets(identity: StackIdentity, config: GlobalConfig, org: str) -> dict[str, Target]:
    """Every endpoint's ``-apps`` outputs, read and checked, as routing targets."""
    outputs = {
        endpoint.name: reference_endpoint(
            f"{identity.base_name}-{endpoint.name}", endpoint, org=org, project=identity.project
        )
        for endpoint in config.endpoints
    }
    common_host(list(outputs.values()))
    return {name: found.target(name) for name, found in outputs.items()}


def _route53(identity: StackIdentity, config: GlobalConfig, plan: RoutingPlan) -> dict[str, Any]:
    zone = config.traffic.route53
    routing = Route53Routing(
        f"{identity.base_name}-dns",
        Route53RoutingArgs(
            plan=plan,
            zone=zone,
            zone_name=zone.name or parent_domain(plan.host),
            tags=identity.tags(),
        ),
    )
    exported: dict[str, Any] = {"zoneId": routing.zone_id, "healthChecks": routing.health_check_ids}
    if routing.name_servers is not None:
        exported["nameServers"] = routing.name_servers
    return exported


def _profile_label(identity: StackIdentity, subscription_id: str) -> str:
    base = re.sub(r"[^a-z0-9-]", "", identity.project.lower())[:20] or "stratus"
    suffix = unique_suffix(subscription_id, identity.project, identity.stack)
    return f"{base}-{identity.environment}-ml-api-{suffix}"


def _traffic_manager(
    identity: StackIdentity, config: GlobalConfig, plan: RoutingPlan
) -> dict[str, Any]:
    client = authorization.get_client_config_output()
    group = resources.ResourceGroup(
        f"{identity.base_name}-global-rg", location=read_location(), tags=identity.tags()
    )
    zone = config.traffic.azure_dns
    routing = TrafficManagerRouting(
        f"{identity.base_name}-tm",
        TrafficManagerRoutingArgs(
            plan=plan,
            resource_group_name=group.name,
            relative_name=client.subscription_id.apply(
                lambda subscription: _profile_label(identity, subscription)
            ),
            zone_name=zone.name or parent_domain(plan.host),
            zone_group=zone.resource_group_name,
            tags=identity.tags(),
        ),
    )
    exported: dict[str, Any] = {"trafficManagerFqdn": routing.fqdn}
    if routing.name_servers is not None:
        exported["nameServers"] = routing.name_servers
    return exported


def _vpns(identity: StackIdentity, config: GlobalConfig, org: str) -> list[dict[str, Any]]:
    if not config.vpn.enabled:
        return []
    client = authorization.get_client_config_output()
    exported = []
    for link in config.vpn.links:
        ends = {}
        for ref in (link.aws, link.azure):
            project, stack = split_stack_reference(ref)
            ends[ref] = reference_foundation(
                f"{identity.base_name}-vpn-{ref.replace('/', '-')}",
                org=org,
                project=project or identity.project,
                stack=stack,
            )
        aws_end = aws_side(ends[link.aws].stack, ends[link.aws].contract)
        azure_end = azure_side(ends[link.azure].stack, ends[link.azure].contract)
        check_address_plan(aws_end, azure_end)
        name = f"{identity.base_name}-vpn-{link.aws}-{link.azure}".replace("/", "-")
        vpn = CrossCloudVpn(
            name,
            CrossCloudVpnArgs(
                aws=aws_end,
                azure=azure_end,
                bgp=config.vpn.bgp,
                azure_gateway_sku=config.vpn.azure_gateway_sku,
                subscription_id=client.subscription_id,
                tags=identity.tags(),
            ),
        )
        exported.append(
            {
                "aws": aws_end.stack,
                "azure": azure_end.stack,
                "routing": "bgp" if config.vpn.bgp.enabled else "static",
                "awsCidrs": aws_end.cidrs,
                "azureCidrs": azure_end.cidrs,
                "tunnelAddresses": vpn.tunnel_addresses,
                "azureGatewayIp": vpn.azure_gateway_ip,
            }
        )
    return exported


def build_stack(identity: StackIdentity) -> None:
    config = read_global_config()
    config.check_environment(identity.environment)
    org = read_pulumi_org()
    plan = build_plan(config, read_targets(identity, config, org))
    plan.rto.require(f"{NAMESPACE}:global.traffic")
    if plan.provider == "route53":
        dns = _route53(identity, config, plan)
    else:
        dns = _traffic_manager(identity, config, plan)
    vpns = _vpns(identity, config, org)

    pulumi.export("host", plan.host)
    pulumi.export("provider", plan.provider)
    pulumi.export("strategy", plan.strategy)
    pulumi.export(
        "endpoints",
        {
            route.target.name: {
                "cloud": route.target.cloud,
                "address": route.target.address,
                "weight": route.weight,
                "priority": route.priority,
                "role": route.role,
                "latencyRegion": route.latency_region,
            }
            for route in plan.routes
        },
    )
    pulumi.export(
        "healthCheck",
        {
            "protocol": plan.health.protocol,
            "path": plan.health.path,
            "port": plan.health.port,
            "intervalSeconds": plan.health.interval_seconds,
            "failureThreshold": plan.health.failures_to_unhealthy,
        },
    )
    pulumi.export("ttlSeconds", plan.ttl_seconds)
    pulumi.export("rto", plan.rto.wire())
    for key, value in dns.items():
        pulumi.export(key, value)
    pulumi.export("vpn", vpns)
