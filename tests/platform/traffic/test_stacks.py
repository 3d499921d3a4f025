"""The shipped global stacks as a whole: components, tags, outputs, resource counts."""

from __future__ import annotations

import inspect

import pulumi_aws
import pulumi_azure_native
import pytest

from infra.offline import StackRun, run_stack, shipped_stacks, stack_values
from tests.platform.traffic.conftest import global_section, run_global

GLOBAL = ("global-dev", "global-prod")


@pytest.fixture(scope="module", params=GLOBAL)
def run(request: pytest.FixtureRequest) -> StackRun:
    return run_stack(request.param)


def test_both_environments_ship_a_global_stack() -> None:
    assert set(GLOBAL) <= set(shipped_stacks())


def _accepts_tags(resource_type: str) -> bool:
    package, module, name = resource_type.split(":")
    root = {"aws": pulumi_aws, "azure-native": pulumi_azure_native}.get(package)
    if root is None:
        return False
    module_name = module.split("/")[0]
    cls = getattr(getattr(root, module_name), name)
    return "tags" in inspect.signature(cls._internal_init).parameters


def test_everything_taggable_is_tagged(run: StackRun) -> None:
    document = stack_values(run.stack)
    expected = {
        "project": "stratus",
        "stack": run.stack,
        "environment": run.stack.removeprefix("global-"),
        "cloud": "global",
        "owner": document["stratus:owner"],
        "cost-center": document["stratus:costCenter"],
    }
    taggable = [r for r in run.resources if r.custom and _accepts_tags(r.type)]
    assert taggable
    assert [f"{r.type} {r.name}" for r in taggable if r.inputs.get("tags") != expected] == []


def test_every_child_is_parented_by_its_component(run: StackRun) -> None:
    components = {r.urn: r for r in run.resources if r.type.startswith("stratus:traffic:")}
    assert components
    for resource in run.resources:
        if resource.custom and resource.type != "azure-native:resources:ResourceGroup":
            parent = components.get(resource.parent)
            assert parent is not None, resource.name
            assert resource.name.startswith(parent.name + "-"), resource.name


def test_outputs_describe_routing_and_rto(run: StackRun) -> None:
    out = run.outputs
    assert out["healthCheck"] == {
        "protocol": "HTTPS",
        "path": "/readyz",
        "port": 443,
        "intervalSeconds": 10 if run.stack == "global-prod" else 30,
        "failureThreshold": 3,
    }
    assert out["rto"]["met"] is True
    assert out["rto"]["sum"].endswith("<= RTO 300 s")


EXPECTED_COUNTS = {
    "global-dev": {
        "azure-native:dns:RecordSet": 1,
        "azure-native:dns:Zone": 1,
        "azure-native:resources:ResourceGroup": 1,
        "azure-native:trafficmanager:Endpoint": 1,
        "azure-native:trafficmanager:Profile": 1,
        "stratus:traffic:TrafficManagerRouting": 1,
    },
    "global-prod": {
        "aws:ec2/customerGateway:CustomerGateway": 1,
        "aws:ec2/vpnConnection:VpnConnection": 1,
        "aws:ec2/vpnConnectionRoute:VpnConnectionRoute": 1,
        "aws:ec2/vpnGateway:VpnGateway": 1,
        "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation": 3,
        "aws:route53/healthCheck:HealthCheck": 5,
        "aws:route53/record:Record": 2,
        "aws:route53/zone:Zone": 1,
        "azure-native:network:LocalNetworkGateway": 2,
        "azure-native:network:PublicIPAddress": 1,
        "azure-native:network:VirtualNetworkGateway": 1,
        "azure-native:network:VirtualNetworkGatewayConnection": 2,
        "random:index/randomPassword:RandomPassword": 2,
        "stratus:traffic:CrossCloudVpn": 1,
        "stratus:traffic:Route53Routing": 1,
    },
}


def test_resource_count_per_type(run: StackRun) -> None:
    assert run.count_by_type() == EXPECTED_COUNTS[run.stack]


@pytest.mark.parametrize("stack", GLOBAL)
@pytest.mark.parametrize(
    ("provider", "component", "region"),
    [
        ("route53", "stratus:traffic:Route53Routing", {"aws:region": "eu-west-1"}),
        (
            "traffic-manager",
            "stratus:traffic:TrafficManagerRouting",
            {"azure-native:location": "westeurope"},
        ),
    ],
)
def test_each_global_stack_runs_with_either_provider(
    stack: str, provider: str, component: str, region: dict[str, str]
) -> None:
    """Switching provider takes the key and the provider's region (README "Multi-cloud")."""
    section = global_section(stack)
    section["traffic"]["provider"] = provider
    run = run_global(section, stack, **region)
    routing = [r.type for r in run.resources if r.type.startswith("stratus:traffic:")]
    assert [t for t in routing if t.endswith("Routing")] == [component]
    assert run.outputs["provider"] == provider
    assert set(run.outputs["endpoints"]) == {e["stack"] for e in section["endpoints"]}
