"""The VNet: subnets for nodes, the API server, private endpoints, the database and (optionally)
deployers; NSGs; and the private DNS zones the private endpoints register in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.network as network
import pulumi_azure_native.privatedns as privatedns

from infra.azure.config import NetworkConfig
from infra.azure.gateway_subnet import gateway_subnet

#: Private DNS zone per private-endpoint kind (the ``groupId`` the endpoint connects to).
PRIVATE_LINK_ZONES: Mapping[str, str] = {
    "blob": "privatelink.blob.core.windows.net",
    "registry": "privatelink.azurecr.io",
    "vault": "privatelink.vaultcore.azure.net",
}


@dataclass(frozen=True)
class NetworkArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    config: NetworkConfig
    #: The PostgreSQL flexible server's private zone (must end in ``.postgres.database.azure.com``).
    postgres_zone_name: str
    tags: Mapping[str, str]


class Network(pulumi.ComponentResource):
    """VNet with four subnets, each behind its own NSG, plus the private DNS zones linked to it.

    Subnets are separate ``Subnet`` resources (never inline ``subnets`` on the VNet: the two ways
    fight over the same list). The endpoints subnet enforces NSGs on private endpoints.
    """

    vnet_id: pulumi.Output[str]
    nodes_subnet_id: pulumi.Output[str]
    api_server_subnet_id: pulumi.Output[str]
    endpoints_subnet_id: pulumi.Output[str]
    database_subnet_id: pulumi.Output[str]
    #: Self-hosted runners / deployers (``network.deployerSubnet``), ``None`` when not configured.
    deployer_subnet_id: pulumi.Output[str] | None
    #: The VPN gateway's ``GatewaySubnet`` (``network.gatewaySubnet``), ``None`` when not reserved.
    gateway_subnet_id: pulumi.Output[str] | None
    vnet_name: pulumi.Output[str]
    #: ``blob`` / ``registry`` / ``vault`` → private DNS zone id.
    private_link_zone_ids: Mapping[str, pulumi.Output[str]]
    postgres_zone_id: pulumi.Output[str]
    #: Depend on these before creating anything that resolves names through the zones.
    zone_links: list[pulumi.Resource]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:azure:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.config
        rg = args.resource_group_name

        self._vnet = network.VirtualNetwork(
            f"{name}-vnet",
            resource_group_name=rg,
            location=args.location,
            address_space=network.AddressSpaceArgs(address_prefixes=[cfg.address_space]),
            tags=args.tags,
            opts=child,
        )
        self.vnet_id = self._vnet.id
        self.vnet_name = self._vnet.name
        self._last_subnet: network.Subnet | None = None
        # Deployers: the runner subnet and networks outside the VNet (VPN, ExpressRoute, peering).
        deployer_sources = [
            *([cfg.deployer_subnet] if cfg.deployer_subnet else []),
            *cfg.deployer_cidrs,
        ]

        nodes_rules = [
            # The ML API's public load balancer forwards HTTP(S) to the nodes.
            _inbound("allow-lb-http", 100, "Allow", "Tcp", ["Internet"], ["80", "443"]),
        ]
        endpoints_rules = [
            _inbound("allow-nodes-https", 100, "Allow", "Tcp", [cfg.nodes_subnet], ["443"]),
            # The VNet-integrated API server runs the KMS plugin, which reaches the vault here.
            _inbound(
                "allow-apiserver-https", 110, "Allow", "Tcp", [cfg.api_server_subnet], ["443"]
            ),
            _inbound("deny-vnet", 4000, "Deny", "*", ["VirtualNetwork"], ["*"]),
        ]
        api_rules = [
            _inbound("allow-vnet-https", 100, "Allow", "Tcp", ["VirtualNetwork"], ["443"]),
        ]
        if deployer_sources:
            # Deployers push images (registry), read secrets (vault), upload data (blob) ...
            endpoints_rules.append(
                _inbound("allow-deployers-https", 120, "Allow", "Tcp", deployer_sources, ["443"])
            )
            # ... and reach the private API server.
            api_rules.append(
                _inbound("allow-deployers-https", 110, "Allow", "Tcp", deployer_sources, ["443"])
            )
        database_rules = [
            _inbound("allow-nodes-pg", 100, "Allow", "Tcp", [cfg.nodes_subnet], ["5432"]),
            # Zone-redundant HA replicates between the primary and the standby inside the subnet.
            _inbound("allow-database-subnet", 110, "Allow", "*", [cfg.database_subnet], ["5432"]),
            _inbound("deny-vnet", 4000, "Deny", "*", ["VirtualNetwork"], ["*"]),
        ]
        deployer_rules = [
            _inbound("deny-vnet", 4000, "Deny", "*", ["VirtualNetwork"], ["*"]),
        ]

        self.nodes_subnet_id = self._subnet(
            name, "nodes", args, cfg.nodes_subnet, nodes_rules, delegation=None
        )
        self.api_server_subnet_id = self._subnet(
            name,
            "apiserver",
            args,
            cfg.api_server_subnet,
            api_rules,
            delegation="Microsoft.ContainerService/managedClusters",
        )
        self.endpoints_subnet_id = self._subnet(
            name, "endpoints", args, cfg.endpoints_subnet, endpoints_rules, delegation=None
        )
        self.database_subnet_id = self._subnet(
            name,
            "database",
            args,
            cfg.database_subnet,
            database_rules,
            delegation="Microsoft.DBforPostgreSQL/flexibleServers",
            # Microsoft's recommendation for HA: WAL archiving reaches Storage over the backbone.
            service_endpoints=["Microsoft.Storage"],
        )
        self.deployer_subnet_id = (
            self._subnet(
                name, "deployers", args, cfg.deployer_subnet, deployer_rules, delegation=None
            )
            if cfg.deployer_subnet
            else None
        )
        self.gateway_subnet_id = (
            gateway_subnet(
                self,
                name,
                resource_group_name=rg,
                virtual_network_name=self._vnet.name,
                prefix=cfg.gateway_subnet,
                after=self._last_subnet,
            ).id
            if cfg.gateway_subnet
            else None
        )

        self.zone_links = []
        zone_ids: dict[str, pulumi.Output[str]] = {}
        for kind, zone_name in PRIVATE_LINK_ZONES.items():
            zone_ids[kind] = self._zone(name, kind, zone_name, args)
        self.private_link_zone_ids = zone_ids
        self.postgres_zone_id = self._zone(name, "postgres", args.postgres_zone_name, args)

        self.register_outputs(
            {
                "vnetId": self.vnet_id,
                "nodesSubnetId": self.nodes_subnet_id,
                "apiServerSubnetId": self.api_server_subnet_id,
                "endpointsSubnetId": self.endpoints_subnet_id,
                "databaseSubnetId": self.database_subnet_id,
                "postgresZoneId": self.postgres_zone_id,
            }
        )

    def _subnet(
        self,
        name: str,
        role: str,
        args: NetworkArgs,
        prefix: str,
        rules: list[network.SecurityRuleArgs],
        *,
        delegation: str | None,
        service_endpoints: list[str] | None = None,
    ) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        nsg = network.NetworkSecurityGroup(
            f"{name}-{role}-nsg",
            resource_group_name=args.resource_group_name,
            location=args.location,
            security_rules=rules,
            tags=args.tags,
            opts=child,
        )
        subnet = network.Subnet(
            f"{name}-{role}",
            resource_group_name=args.resource_group_name,
            virtual_network_name=self._vnet.name,
            address_prefix=prefix,
            network_security_group=network.NetworkSecurityGroupArgs(id=nsg.id),
            delegations=(
                [network.DelegationArgs(name=role, service_name=delegation)] if delegation else None
            ),
            private_endpoint_network_policies="Enabled" if role == "endpoints" else None,
            service_endpoints=(
                [network.ServiceEndpointPropertiesFormatArgs(service=s) for s in service_endpoints]
                if service_endpoints
                else None
            ),
            default_outbound_access=False,
            # Azure rejects concurrent writes to one VNet's subnets: create them one by one.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self._last_subnet] if self._last_subnet else []
            ),
        )
        self._last_subnet = subnet
        return subnet.id

    def _zone(self, name: str, kind: str, zone_name: str, args: NetworkArgs) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        zone = privatedns.PrivateZone(
            f"{name}-{kind}-zone",
            resource_group_name=args.resource_group_name,
            private_zone_name=zone_name,
            location="global",
            tags=args.tags,
            opts=child,
        )
        link = privatedns.VirtualNetworkLink(
            f"{name}-{kind}-zone-link",
            resource_group_name=args.resource_group_name,
            private_zone_name=zone.name,
            location="global",
            virtual_network=privatedns.SubResourceArgs(id=self._vnet.id),
            registration_enabled=False,
            tags=args.tags,
            opts=child,
        )
        self.zone_links.append(link)
        return zone.id


def _inbound(
    name: str, priority: int, access: str, protocol: str, sources: list[str], ports: list[str]
) -> network.SecurityRuleArgs:
    """An inbound NSG rule from ``sources`` (CIDRs or one service tag) on ``ports``."""
    single = len(sources) == 1
    return network.SecurityRuleArgs(
        name=name,
        priority=priority,
        direction="Inbound",
        access=access,
        protocol=protocol,
        source_address_prefix=sources[0] if single else None,
        source_address_prefixes=None if single else list(sources),
        source_port_range="*",
        destination_address_prefix="*",
        destination_port_ranges=ports,
    )


def private_endpoint(
    parent: pulumi.Resource,
    name: str,
    *,
    resource_group_name: pulumi.Input[str],
    location: pulumi.Input[str],
    subnet_id: pulumi.Input[str],
    target_id: pulumi.Input[str],
    group_id: str,
    zone_id: pulumi.Input[str],
    tags: Mapping[str, str],
    depends_on: list[pulumi.Resource] | None = None,
) -> network.PrivateEndpoint:
    """A private endpoint to ``target_id`` (sub-resource ``group_id``), DNS in ``zone_id``."""
    endpoint = network.PrivateEndpoint(
        f"{name}-pe",
        resource_group_name=resource_group_name,
        location=location,
        subnet=network.SubnetArgs(id=subnet_id),
        private_link_service_connections=[
            network.PrivateLinkServiceConnectionArgs(
                name=f"{name}-{group_id}",
                private_link_service_id=target_id,
                group_ids=[group_id],
            )
        ],
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on or []),
    )
    network.PrivateDnsZoneGroup(
        f"{name}-pe-dns",
        resource_group_name=resource_group_name,
        private_endpoint_name=endpoint.name,
        private_dns_zone_group_name="default",
        private_dns_zone_configs=[
            network.PrivateDnsZoneConfigArgs(name=group_id, private_dns_zone_id=zone_id)
        ],
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return endpoint
