"""The cross-cloud VPN: both sides agree on addresses, ranges and keys; the keys are random
secrets, the same secret on both ends of a tunnel and never in plain text; overlapping ranges and
a VNet without a GatewaySubnet are refused before anything is created."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import StratusConfigError
from infra.offline import MOCK_PASSWORD, StackRun, mock_password, run_stack
from infra.offline import azure as azure_mocks
from infra.traffic.vpn import VpnPlanError
from tests.platform.traffic.conftest import doctored, global_section, run_global

CONNECTION = "aws:ec2/vpnConnection:VpnConnection"
AZURE_CONNECTION = "azure-native:network:VirtualNetworkGatewayConnection"
LOCAL_GATEWAY = "azure-native:network:LocalNetworkGateway"
PASSWORD = "random:index/randomPassword:RandomPassword"


@pytest.fixture(scope="module", params=["static", "bgp"])
def run(request: pytest.FixtureRequest) -> StackRun:
    if request.param == "static":
        return run_stack("global-prod")
    section = global_section()
    section["vpn"]["bgp"] = {"enabled": True, "awsAsn": 64512, "azureAsn": 65515}
    return run_global(section)


@pytest.fixture(scope="module")
def foundations() -> dict[str, dict[str, Any]]:
    return {s: run_stack(s).outputs["network"] for s in ("aws-prod", "azure-prod")}


def _bgp(run: StackRun) -> bool:
    return bool(run.outputs["vpn"][0]["routing"] == "bgp")


def test_the_aws_side_sits_in_the_foundation_vpc_and_region(
    run: StackRun, foundations: dict[str, dict[str, Any]]
) -> None:
    network = foundations["aws-prod"]
    gateway = run.one("aws:ec2/vpnGateway:VpnGateway")
    assert gateway.get("vpcId") == network["id"]
    aws_resources = [r for r in run.resources if r.type.startswith("aws:ec2/")]
    assert {r.get("region") for r in aws_resources} == {"eu-west-1"}
    propagations = run.of_type("aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation")
    assert sorted(p.get("routeTableId") for p in propagations) == sorted(
        network["details"]["privateRouteTableIds"]
    )


def test_the_azure_side_sits_in_the_foundation_gateway_subnet(
    run: StackRun, foundations: dict[str, dict[str, Any]]
) -> None:
    details = foundations["azure-prod"]["details"]
    gateway = run.one("azure-native:network:VirtualNetworkGateway")
    assert gateway.get("ipConfigurations.0.subnet.id") == details["gatewaySubnetId"]
    assert gateway.get("resourceGroupName") == details["resourceGroupName"]
    assert gateway.get("location") == details["location"]
    assert (gateway.get("gatewayType"), gateway.get("vpnType")) == ("Vpn", "RouteBased")
    assert gateway.get("sku") == {"name": "VpnGw1AZ", "tier": "VpnGw1AZ"}
    public_ip = run.one("azure-native:network:PublicIPAddress")
    assert gateway.get("ipConfigurations.0.publicIPAddress.id") == f"{public_ip.name}-id"


def test_each_side_points_at_the_others_address(run: StackRun) -> None:
    customer = run.one("aws:ec2/customerGateway:CustomerGateway")
    assert customer.get("ipAddress") == azure_mocks.GATEWAY_PUBLIC_IP
    tunnels = run.outputs["vpn"][0]["tunnelAddresses"]
    locals_ = sorted(run.of_type(LOCAL_GATEWAY), key=lambda r: r.name)
    assert [g.get("gatewayIpAddress") for g in locals_] == tunnels
    connections = sorted(run.of_type(AZURE_CONNECTION), key=lambda r: r.name)
    assert [c.get("localNetworkGateway2.id") for c in connections] == [
        f"{g.name}-id" for g in locals_
    ]
    for connection in connections:
        assert connection.get("connectionType") == "IPsec"
        assert connection.get("connectionProtocol") == "IKEv2"
    aws = run.one(CONNECTION)
    assert aws.get("tunnel1IkeVersions") == aws.get("tunnel2IkeVersions") == ["ikev2"]


def test_both_sides_route_the_others_cidrs(
    run: StackRun, foundations: dict[str, dict[str, Any]]
) -> None:
    aws_cidrs, azure_cidrs = foundations["aws-prod"]["cidrs"], foundations["azure-prod"]["cidrs"]
    aws = run.one(CONNECTION)
    routes = run.of_type("aws:ec2/vpnConnectionRoute:VpnConnectionRoute")
    locals_ = run.of_type(LOCAL_GATEWAY)
    if _bgp(run):
        assert aws.get("staticRoutesOnly") is False
        assert routes == []
        assert aws.get("tunnel1InsideCidr") == "169.254.21.0/30"
        assert aws.get("tunnel2InsideCidr") == "169.254.22.0/30"
        gateway = run.one("azure-native:network:VirtualNetworkGateway")
        assert gateway.get("enableBgp") is True
        assert gateway.get("bgpSettings.asn") == 65515
        assert gateway.get("bgpSettings.bgpPeeringAddresses.0.customBgpIpAddresses") == [
            "169.254.21.2",
            "169.254.22.2",
        ]
        assert sorted(g.get("bgpSettings.bgpPeeringAddress") for g in locals_) == [
            "169.254.21.1",
            "169.254.22.1",
        ]
        assert {g.get("bgpSettings.asn") for g in locals_} == {64512}
        assert run.one("aws:ec2/vpnGateway:VpnGateway").get("amazonSideAsn") == "64512"
        assert run.one("aws:ec2/customerGateway:CustomerGateway").get("bgpAsn") == "65515"
    else:
        assert aws.get("staticRoutesOnly") is True
        assert [r.get("destinationCidrBlock") for r in routes] == azure_cidrs
        assert all(r.get("vpnConnectionId") == f"{aws.name}-id" for r in routes)
        for local in locals_:
            assert local.get("localNetworkAddressSpace.addressPrefixes") == aws_cidrs
            assert local.get("bgpSettings") is None
    assert run.outputs["vpn"][0]["awsCidrs"] == aws_cidrs
    assert run.outputs["vpn"][0]["azureCidrs"] == azure_cidrs


def test_each_tunnel_has_one_random_key_the_same_secret_on_both_sides(run: StackRun) -> None:
    keys = {p.urn: p for p in run.of_type(PASSWORD)}
    assert len(keys) == 2
    for key in keys.values():
        # Letters only: AWS accepts 8-64 of [A-Za-z0-9._], never starting with 0.
        assert key.get("length") == 40
        assert (key.get("numeric"), key.get("special")) == (False, False)
    aws = run.one(CONNECTION)
    azure = {c.name.rsplit("-", 1)[1]: c for c in run.of_type(AZURE_CONNECTION)}
    used = set()
    for tunnel in (1, 2):
        aws_key = aws.property_dependencies[f"tunnel{tunnel}PresharedKey"]
        azure_key = azure[f"tunnel{tunnel}"].property_dependencies["sharedKey"]
        assert aws_key == azure_key
        assert len(aws_key) == 1
        assert aws_key[0] in keys
        used.add(aws_key[0])
        assert aws.is_secret(f"tunnel{tunnel}PresharedKey")
        assert azure[f"tunnel{tunnel}"].is_secret("sharedKey")
        # The same generated value on both sides of the tunnel.
        assert aws.get(f"tunnel{tunnel}PresharedKey") == mock_password(aws_key[0].split("::")[-1])
        assert azure[f"tunnel{tunnel}"].get("sharedKey") == aws.get(f"tunnel{tunnel}PresharedKey")
    assert len(used) == 2  # one key per tunnel
    assert aws.get("tunnel1PresharedKey") != aws.get("tunnel2PresharedKey")
    assert run.plaintext_occurrences(MOCK_PASSWORD) == []


def _network(stack: str, **changes: Any) -> dict[str, Any]:
    network = dict(run_stack(stack).outputs["network"])
    network.update(changes)
    return network


@pytest.mark.parametrize(
    ("stack", "changes", "message"),
    [
        (
            "aws-prod",
            {"cidrs": ["10.30.128.0/17"]},
            "organization/stratus/aws-prod VPC 0 10.30.128.0/17 overlaps "
            "organization/stratus/azure-prod VNet 0 10.30.0.0/16",
        ),
        (
            "aws-prod",
            {"cidrs": ["10.250.0.0/16"]},
            "overlaps organization/stratus/azure-prod Kubernetes Services 10.250.0.0/16",
        ),
        (
            "azure-prod",
            {"cidrs": ["172.20.0.0/16"]},
            "organization/stratus/aws-prod Kubernetes Services 172.20.0.0/16 overlaps "
            "organization/stratus/azure-prod VNet 0 172.20.0.0/16",
        ),
    ],
)
def test_overlapping_ranges_are_refused_naming_both(
    stack: str, changes: dict[str, Any], message: str
) -> None:
    references = {stack: doctored(stack, network=_network(stack, **changes))}
    with pytest.raises(VpnPlanError) as failure:
        run_global(global_section(), references=references)
    assert "the VPN cannot route between" in str(failure.value)
    assert message in str(failure.value)


def test_a_vnet_without_gateway_subnet_is_refused_with_the_command_to_reserve_one() -> None:
    network = _network("azure-prod")
    network["details"] = {**network["details"], "gatewaySubnetId": None}
    references = {"azure-prod": doctored("azure-prod", network=network)}
    with pytest.raises(VpnPlanError) as failure:
        run_global(global_section(), references=references)
    message = str(failure.value)
    assert message.startswith(
        "stack organization/stratus/azure-prod: output 'network.details.gatewaySubnetId' is missing"
    )
    assert "pulumi config set --path 'stratus:azure.network.gatewaySubnet'" in message


def test_a_foundation_in_two_links_is_refused() -> None:
    section = global_section()
    section["vpn"]["links"].append({"aws": "aws-prod", "azure": "stratus-us/azure-prod"})
    with pytest.raises(StratusConfigError, match="each aws foundation in one link only"):
        run_global(section)


def test_vpn_off_creates_nothing_of_it() -> None:
    section = global_section()
    section["vpn"]["enabled"] = False
    run = run_global(section)
    assert run.outputs["vpn"] == []
    assert not [r for r in run.resources if "vpn" in r.type.lower() or r.type == PASSWORD]
