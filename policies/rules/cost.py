"""Cost guardrails: machine families from the approved list, training pools on spot capacity."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from pydantic import Field

from policies.rules.base import Params, Resource, ResourceRule
from policies.rules.props import dig, items, mapping

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
AGENT_POOL = "azure-native:containerservice:AgentPool"
MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
_AZURE_SIZE = re.compile(
    r"^(?P<prefix>Standard_|Basic_)?(?P<series>[A-Za-z]+)(?P<vcpus>\d+)(?P<rest>.*)$"
)


def instance_family(machine_type: str) -> str:
    """``m6i.xlarge`` → ``m6i``; ``Standard_D4ds_v5`` → ``Standard_Dds_v5`` (the size's vCPU
    count removed, which leaves the Azure series and its features)."""
    if "." in machine_type:
        return machine_type.split(".", 1)[0]
    match = _AZURE_SIZE.match(machine_type)
    if match is None:
        return machine_type
    return f"{match['prefix'] or ''}{match['series']}{match['rest']}"


def _machine_types(resource: Resource) -> list[tuple[str, str]]:
    """``(where, machine type)`` of every node the resource creates."""
    props = resource.props
    if resource.type == NODE_GROUP:
        return [("instanceTypes", str(t)) for t in items(props.get("instanceTypes"))]
    if resource.type == LAUNCH_TEMPLATE and props.get("instanceType"):
        return [("instanceType", str(props["instanceType"]))]
    if resource.type == AGENT_POOL and props.get("vmSize"):
        return [("vmSize", str(props["vmSize"]))]
    if resource.type == MANAGED_CLUSTER:
        return [
            (f"agentPoolProfiles[{mapping(p).get('name', i)}].vmSize", str(mapping(p)["vmSize"]))
            for i, p in enumerate(items(props.get("agentPoolProfiles")))
            if mapping(p).get("vmSize")
        ]
    return []


class FamilyParams(Params):
    allowed_instance_families: Mapping[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="per cloud (aws, azure), glob patterns of the machine families node pools use",
    )


def _families(resource: Resource, params: FamilyParams) -> Iterator[str]:
    cloud = "aws" if resource.package == "aws" else "azure"
    allowed = params.allowed_instance_families.get(cloud)
    if allowed is None:
        return
    for where, machine in _machine_types(resource):
        family = instance_family(machine)
        if not any(fnmatchcase(family, pattern) for pattern in allowed):
            yield (
                f"{where}: {machine} (family {family}) is not an allowed family "
                f"({', '.join(allowed)})"
            )


ALLOWED_INSTANCE_FAMILIES = ResourceRule(
    name="allowed-instance-families",
    summary="node pools use machine families from the approved list",
    controls=(
        "Azure Policy: Allowed virtual machine size SKUs",
        "AWS Well-Architected COST02-BP05",
    ),
    params=FamilyParams,
    types=frozenset({NODE_GROUP, LAUNCH_TEMPLATE, AGENT_POOL, MANAGED_CLUSTER}),
    check=_families,
)


class SpotParams(Params):
    pool_label: str = Field(default="stratus.io/pool", description="node label naming the pool")
    spot_pools: tuple[str, ...] = Field(default=("training",), description="pools that run on spot")


def _pools(resource: Resource) -> list[tuple[str, Mapping[str, Any], bool]]:
    """``(pool name, node labels, runs on spot)`` for each pool the resource defines."""
    props = resource.props
    if resource.type == NODE_GROUP:
        return [(resource.name, mapping(props.get("labels")), props.get("capacityType") == "SPOT")]
    if resource.type == AGENT_POOL:
        return [
            (
                str(props.get("agentPoolName") or resource.name),
                mapping(props.get("nodeLabels")),
                props.get("scaleSetPriority") == "Spot",
            )
        ]
    if resource.type == MANAGED_CLUSTER:
        return [
            (
                str(mapping(p).get("name", "?")),
                mapping(dig(p, "nodeLabels")),
                dig(p, "scaleSetPriority") == "Spot",
            )
            for p in items(props.get("agentPoolProfiles"))
        ]
    return []


def _spot(resource: Resource, params: SpotParams) -> Iterator[str]:
    for name, labels, spot in _pools(resource):
        pool = str(labels.get(params.pool_label, ""))
        if pool in params.spot_pools and not spot:
            yield f"pool {name} ({params.pool_label}={pool}) runs on on-demand capacity, not spot"


TRAINING_ON_SPOT = ResourceRule(
    name="training-pools-spot",
    summary="training node pools run on spot capacity",
    controls=("AWS Well-Architected COST06-BP03", "Azure Well-Architected CO:05"),
    params=SpotParams,
    types=frozenset({NODE_GROUP, AGENT_POOL, MANAGED_CLUSTER}),
    check=_spot,
)

RULES = (ALLOWED_INSTANCE_FAMILIES, TRAINING_ON_SPOT)
