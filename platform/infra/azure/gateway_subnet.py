"""The ``GatewaySubnet``: address space the foundation reserves in its VNet for a VPN gateway.

The cross-cloud VPN (``global-<env>``, :mod:`infra.traffic.vpn`) puts an Azure virtual network
gateway in it. The foundation owns the VNet's layout, so it reserves the subnet from config
(``stratus:azure.network.gatewaySubnet``, validated with the other subnets: inside the address
space, overlapping none, ``/27`` or larger as Azure recommends) and exports its id in the contract's
``network.details.gatewaySubnetId``; the global stack never writes into another stack's VNet.
Azure requires the name ``GatewaySubnet`` and supports no NSG and no delegation on it.
"""

from __future__ import annotations

import pulumi
import pulumi_azure_native.network as network

#: The only name Azure accepts for a virtual network gateway's subnet.
GATEWAY_SUBNET_NAME = "GatewaySubnet"
#: The smallest block Azure recommends for a VPN gateway (room for active-active and growth).
GATEWAY_SUBNET_MAX_PREFIX = 27


def gateway_subnet(
    parent: pulumi.Resource,
    name: str,
    *,
    resource_group_name: pulumi.Input[str],
    virtual_network_name: pulumi.Input[str],
    prefix: str,
    after: pulumi.Resource | None,
) -> network.Subnet:
    """The ``GatewaySubnet`` of ``prefix``, created after ``after`` (Azure rejects concurrent
    writes to one VNet's subnets)."""
    return network.Subnet(
        f"{name}-gateway",
        subnet_name=GATEWAY_SUBNET_NAME,
        resource_group_name=resource_group_name,
        virtual_network_name=virtual_network_name,
        address_prefix=prefix,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[after] if after else []),
    )
