"""Network security groups: no administrative port open to the internet."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.rules.base import Resource, ResourceRule
from policies.rules.params import AdminPortParams
from policies.rules.props import items, mapping

NSG = "azure-native:network:NetworkSecurityGroup"
SECURITY_RULE = "azure-native:network:SecurityRule"
ANYWHERE = frozenset({"*", "0.0.0.0/0", "::/0", "internet", "any"})


def _strings(rule: Mapping[str, Any], one: str, many: str) -> list[str]:
    found = [str(v) for v in items(rule.get(many))]
    if rule.get(one):
        found.append(str(rule[one]))
    return found


def _port_range_covers(spec: str, port: int) -> bool:
    if spec == "*":
        return True
    low, _, high = spec.partition("-")
    try:
        return int(low) <= port <= int(high or low)
    except ValueError:
        return False


def _open_ports(rule: Mapping[str, Any], params: AdminPortParams) -> list[int]:
    if str(rule.get("direction", "")) != "Inbound" or str(rule.get("access", "")) != "Allow":
        return []
    sources = _strings(rule, "sourceAddressPrefix", "sourceAddressPrefixes")
    if not any(s.lower() in ANYWHERE for s in sources):
        return []
    ranges = _strings(rule, "destinationPortRange", "destinationPortRanges")
    return [p for p in params.admin_ports if any(_port_range_covers(r, p) for r in ranges)]


def _nsg(resource: Resource, params: AdminPortParams) -> Iterator[str]:
    rules = (
        [mapping(r) for r in items(resource.props.get("securityRules"))]
        if resource.type == NSG
        else [resource.props]
    )
    for rule in rules:
        ports = _open_ports(rule, params)
        if ports:
            name = rule.get("name") or rule.get("securityRuleName") or resource.name
            yield (
                f"rule {name} allows the internet to admin port(s) "
                f"{', '.join(str(p) for p in ports)}"
            )


NSG_NO_PUBLIC_ADMIN_PORTS = ResourceRule(
    name="azure-nsg-no-public-admin-ports",
    summary="no network security group opens an administrative port to the internet",
    controls=("Checkov CKV_AZURE_9", "Checkov CKV_AZURE_10", "CIS Azure 6.1", "CIS Azure 6.2"),
    params=AdminPortParams,
    types=frozenset({NSG, SECURITY_RULE}),
    check=_nsg,
)

RULES = (NSG_NO_PUBLIC_ADMIN_PORTS,)
