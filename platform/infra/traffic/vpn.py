"""The cross-cloud VPN: an AWS site-to-site VPN (virtual private gateway, customer gateway,
connection with two tunnels, routes) to an Azure VPN gateway (public IP, virtual network gateway
in the foundation VNet's ``GatewaySubnet``, one local network gateway and one connection per AWS
tunnel).

Both ends of each tunnel use the same pre-shared key: a ``random.RandomPassword`` (letters only,
which satisfies AWS's rules: 8-64 characters from letters, digits, ``.`` and ``_``, not starting
with ``0``), handed as the same secret output to both clouds, so it exists only encrypted in the
state. Routing is static (each side's CIDRs) or BGP over the tunnels (APIPA inside addresses
``169.254.21.0/30`` and ``169.254.22.0/30``, as Azure requires for AWS peers). Either way the VPC's
private route tables learn the Azure ranges by route propagation from the virtual private gateway.

The address plan is checked before anything is created: the VPC and the VNet, the only ranges the
tunnels route, must not overlap each other nor the other side's Kubernetes Service and pod ranges
(which would shadow them inside the other cluster).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_azure_native.network as network
import pulumi_random as random

from infra.config import StratusConfigError, overlapping
from infra.foundation import FoundationContract
from infra.traffic.config import BgpConfig

#: The tunnels' inside ranges under BGP (Azure accepts AWS peers only on 169.254.21/22.x).
TUNNEL_INSIDE_CIDRS = ("169.254.21.0/30", "169.254.22.0/30")
IP_CONFIGURATION = "default"
TUNNELS = (1, 2)


class VpnPlanError(StratusConfigError):
    """The two foundations cannot be joined as configured; the message names stack and output."""


@dataclass(frozen=True)
class AwsSide:
    stack: str
    region: str
    vpc_id: str
    cidrs: list[str]
    service_cidr: str
    route_table_ids: list[str]


@dataclass(frozen=True)
class AzureSide:
    stack: str
    location: str
    resource_group_name: str
    vnet_name: str
    gateway_subnet_id: str
    cidrs: list[str]
    pod_cidr: str | None
    service_cidr: str


def _detail(stack: str, details: Mapping[str, Any], key: str, hint: str) -> Any:
    value = details.get(key)
    if not value:
        raise VpnPlanError(f"stack {stack}: output 'network.details.{key}' is missing — {hint}")
    return value


def aws_side(stack: str, contract: FoundationContract) -> AwsSide:
    net = contract.network
    tables = _detail(
        stack, net.details, "privateRouteTableIds", "run `pulumi up` on the AWS foundation"
    )
    return AwsSide(stack, contract.region, net.id, list(net.cidrs), net.service_cidr, list(tables))


def azure_side(stack: str, contract: FoundationContract) -> AzureSide:
    details = contract.network.details
    short = stack.rsplit("/", 1)[-1]
    gateway = _detail(
        stack,
        details,
        "gatewaySubnetId",
        "reserve a GatewaySubnet in the foundation's VNet: pulumi config set --path "
        f"'stratus:azure.network.gatewaySubnet' <a free /27 of the VNet> --stack {short}, "
        f"then `pulumi up --stack {short}`",
    )
    hint = "run `pulumi up` on the Azure foundation"
    return AzureSide(
        stack=stack,
        location=_detail(stack, details, "location", hint),
        resource_group_name=_detail(stack, details, "resourceGroupName", hint),
        vnet_name=_detail(stack, details, "vnetName", hint),
        gateway_subnet_id=gateway,
        cidrs=list(contract.network.cidrs),
        pod_cidr=contract.network.pod_cidr,
        service_cidr=contract.network.service_cidr,
    )


def check_address_plan(aws_end: AwsSide, azure_end: AzureSide) -> None:
    """Refuse overlapping ranges, naming each stack and range (before anything is created)."""
    ranges: dict[str, str] = {}
    for index, cidr in enumerate(aws_end.cidrs):
        ranges[f"{aws_end.stack} VPC {index}"] = cidr
    ranges[f"{aws_end.stack} Kubernetes Services"] = aws_end.service_cidr
    for index, cidr in enumerate(azure_end.cidrs):
        ranges[f"{azure_end.stack} VNet {index}"] = cidr
    ranges[f"{azure_end.stack} Kubernetes Services"] = azure_end.service_cidr
    if azure_end.pod_cidr:
        ranges[f"{azure_end.stack} Kubernetes pods"] = azure_end.pod_cidr
    routed = {name for name in ranges if " VPC " in name or " VNet " in name}
    clashes = [
        (a, b)
        for a, b in overlapping(ranges)
        if (a in routed or b in routed) and a.split(" ")[0] != b.split(" ")[0]
    ]
    if clashes:
        listed = "; ".join(f"{a} {ranges[a]} overlaps {b} {ranges[b]}" for a, b in clashes)
        raise VpnPlanError(
            f"the VPN cannot route between {aws_end.stack} and {azure_end.stack}: {listed}"
        )


@dataclass(frozen=True)
class CrossCloudVpnArgs:
    aws: AwsSide
    azure: AzureSide
    bgp: BgpConfig
    azure_gateway_sku: str
    subscription_id: pulumi.Input[str]
    tags: Mapping[str, str]


class CrossCloudVpn(pulumi.ComponentResource):
    #: The AWS tunnels' outside addresses (the Azure local network gateways point at them).
    tunnel_addresses: list[pulumi.Output[str]]
    #: The Azure VPN gateway's public IP (the AWS customer gateway points at it).
    azure_gateway_ip: pulumi.Output[str]

    def __init__(
        self, name: str, args: CrossCloudVpnArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:traffic:CrossCloudVpn", name, None, opts)
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        keys = {
            tunnel: random.RandomPassword(
                f"{name}-tunnel{tunnel}-psk",
                length=40,
                upper=True,
                lower=True,
                numeric=False,
                special=False,
                opts=child,
            )
            for tunnel in TUNNELS
        }
        gateway, self.azure_gateway_ip = self._azure_gateway()
        connection = self._aws_side(keys)
        self.tunnel_addresses = [connection.tunnel1_address, connection.tunnel2_address]
        self._azure_connections(gateway, connection, keys)
        self.register_outputs(
            {"tunnelAddresses": self.tunnel_addresses, "azureGatewayIp": self.azure_gateway_ip}
        )

    # --- Azure: public IP and the VPN gateway in the GatewaySubnet ---------------------------

    def _ip_configuration_id(self, gateway_name: str) -> pulumi.Output[str]:
        azure = self._args.azure
        return pulumi.Output.concat(
            "/subscriptions/",
            self._args.subscription_id,
            f"/resourceGroups/{azure.resource_group_name}/providers/Microsoft.Network/"
            f"virtualNetworkGateways/{gateway_name}/ipConfigurations/{IP_CONFIGURATION}",
        )

    def _azure_gateway(self) -> tuple[network.VirtualNetworkGateway, pulumi.Output[str]]:
        args, azure, bgp = self._args, self._args.azure, self._args.bgp
        child = pulumi.ResourceOptions(parent=self)
        public_ip = network.PublicIPAddress(
            f"{self._name}-gateway-ip",
            resource_group_name=azure.resource_group_name,
            location=azure.location,
            sku=network.PublicIPAddressSkuArgs(name="Standard", tier="Regional"),
            public_ip_allocation_method="Static",
            public_ip_address_version="IPv4",
            zones=["1", "2", "3"],
            tags=dict(args.tags),
            opts=child,
        )
        gateway_name = f"{self._name}-gateway"
        bgp_settings = None
        if bgp.enabled:
            bgp_settings = network.BgpSettingsArgs(
                asn=bgp.azure_asn,
                bgp_peering_addresses=[
                    network.IPConfigurationBgpPeeringAddressArgs(
                        ipconfiguration_id=self._ip_configuration_id(gateway_name),
                        custom_bgp_ip_addresses=[_inside(cidr, 2) for cidr in TUNNEL_INSIDE_CIDRS],
                    )
                ],
            )
        gateway = network.VirtualNetworkGateway(
            gateway_name,
            virtual_network_gateway_name=gateway_name,
            resource_group_name=azure.resource_group_name,
            location=azure.location,
            gateway_type="Vpn",
            vpn_type="RouteBased",
            vpn_gateway_generation="Generation1",
            sku=network.VirtualNetworkGatewaySkuArgs(
                name=args.azure_gateway_sku, tier=args.azure_gateway_sku
            ),
            active_active=False,
            enable_bgp=bgp.enabled,
            bgp_settings=bgp_settings,
            ip_configurations=[
                network.VirtualNetworkGatewayIPConfigurationArgs(
                    name=IP_CONFIGURATION,
                    private_ip_allocation_method="Dynamic",
                    subnet=network.SubResourceArgs(id=azure.gateway_subnet_id),
                    public_ip_address=network.SubResourceArgs(id=public_ip.id),
                )
            ],
            tags=dict(args.tags),
            opts=child,
        )
        return gateway, public_ip.ip_address.apply(lambda ip: str(ip or ""))

    # --- AWS: virtual private gateway, customer gateway, connection, routes ------------------

    def _aws_side(self, keys: Mapping[int, random.RandomPassword]) -> aws.ec2.VpnConnection:
        args, side, bgp = self._args, self._args.aws, self._args.bgp
        child = pulumi.ResourceOptions(parent=self)
        vpn_gateway = aws.ec2.VpnGateway(
            f"{self._name}-vgw",
            vpc_id=side.vpc_id,
            amazon_side_asn=str(bgp.aws_asn),
            region=side.region,
            tags=dict(args.tags),
            opts=child,
        )
        customer_gateway = aws.ec2.CustomerGateway(
            f"{self._name}-cgw",
            type="ipsec.1",
            ip_address=self.azure_gateway_ip,
            bgp_asn=str(bgp.azure_asn),
            region=side.region,
            tags=dict(args.tags),
            opts=child,
        )
        connection = aws.ec2.VpnConnection(
            f"{self._name}-connection",
            type="ipsec.1",
            vpn_gateway_id=vpn_gateway.id,
            customer_gateway_id=customer_gateway.id,
            static_routes_only=not bgp.enabled,
            tunnel1_preshared_key=keys[1].result,
            tunnel2_preshared_key=keys[2].result,
            tunnel1_ike_versions=["ikev2"],
            tunnel2_ike_versions=["ikev2"],
            tunnel1_inside_cidr=TUNNEL_INSIDE_CIDRS[0] if bgp.enabled else None,
            tunnel2_inside_cidr=TUNNEL_INSIDE_CIDRS[1] if bgp.enabled else None,
            region=side.region,
            tags=dict(args.tags),
            opts=child,
        )
        if not bgp.enabled:
            for index, cidr in enumerate(args.azure.cidrs):
                aws.ec2.VpnConnectionRoute(
                    f"{self._name}-route-{index}",
                    vpn_connection_id=connection.id,
                    destination_cidr_block=cidr,
                    region=side.region,
                    opts=child,
                )
        for index, table in enumerate(side.route_table_ids):
            aws.ec2.VpnGatewayRoutePropagation(
                f"{self._name}-propagation-{index}",
                vpn_gateway_id=vpn_gateway.id,
                route_table_id=table,
                region=side.region,
                opts=child,
            )
        return connection

    # --- Azure: a local network gateway and a connection per AWS tunnel ----------------------

    def _azure_connections(
        self,
        gateway: network.VirtualNetworkGateway,
        connection: aws.ec2.VpnConnection,
        keys: Mapping[int, random.RandomPassword],
    ) -> None:
        args, azure, bgp = self._args, self._args.azure, self._args.bgp
        child = pulumi.ResourceOptions(parent=self)
        outside = {1: connection.tunnel1_address, 2: connection.tunnel2_address}
        aws_inside = {
            1: connection.tunnel1_vgw_inside_address,
            2: connection.tunnel2_vgw_inside_address,
        }
        for tunnel in TUNNELS:
            local = network.LocalNetworkGateway(
                f"{self._name}-aws-tunnel{tunnel}",
                resource_group_name=azure.resource_group_name,
                location=azure.location,
                gateway_ip_address=outside[tunnel],
                local_network_address_space=(
                    None
                    if bgp.enabled
                    else network.AddressSpaceArgs(address_prefixes=list(args.aws.cidrs))
                ),
                bgp_settings=(
                    network.BgpSettingsArgs(asn=bgp.aws_asn, bgp_peering_address=aws_inside[tunnel])
                    if bgp.enabled
                    else None
                ),
                tags=dict(args.tags),
                opts=child,
            )
            network.VirtualNetworkGatewayConnection(
                f"{self._name}-tunnel{tunnel}",
                resource_group_name=azure.resource_group_name,
                location=azure.location,
                connection_type="IPsec",
                connection_protocol="IKEv2",
                virtual_network_gateway1=network.VirtualNetworkGatewayArgs(id=gateway.id),
                local_network_gateway2=network.LocalNetworkGatewayArgs(id=local.id),
                shared_key=keys[tunnel].result,
                enable_bgp=bgp.enabled,
                gateway_custom_bgp_ip_addresses=(
                    [
                        network.GatewayCustomBgpIpAddressIpConfigurationArgs(
                            ip_configuration_id=self._ip_configuration_id(f"{self._name}-gateway"),
                            custom_bgp_ip_address=_inside(TUNNEL_INSIDE_CIDRS[tunnel - 1], 2),
                        )
                    ]
                    if bgp.enabled
                    else None
                ),
                tags=dict(args.tags),
                opts=child,
            )


def _inside(cidr: str, host: int) -> str:
    """The ``host``-th address of a tunnel's /30 (1: AWS's end, 2: the customer's end)."""
    return str(ipaddress.ip_network(cidr).network_address + host)
