"""What Azure computes on create, for the mock runtime: names, ids, endpoints, identities.

Importing this module registers the computed outputs and invoke results with the harness.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from pulumi.runtime.mocks import MockResourceArgs

from infra.offline.runner import computed_outputs, invoke_result

SUBSCRIPTION_ID = "11111111-2222-3333-4444-555555555555"
TENANT_ID = "66666666-7777-8888-9999-000000000000"
#: What the mocked ``RandomPassword`` returns: tests look for it in plain text.
OIDC_ISSUER = "https://westeurope.oic.prod-aks.azure.com/tenant/cluster/"
KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://stratus-dev-cluster.privatelink.westeurope.azmk8s.io:443
  name: stratus
contexts:
- context: {cluster: stratus, user: clusterUser}
  name: stratus
current-context: stratus
users:
- name: clusterUser
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --login, azurecli, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630]
"""


def _guid(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _named(args: MockResourceArgs, explicit_key: str | None = None) -> dict[str, Any]:
    """Azure's ``name`` output: the explicit name input, else the auto-name (logical + suffix)."""
    explicit = args.inputs.get(explicit_key) if explicit_key else None
    return {"name": explicit or f"{args.name}1a2b3c4d"}


def _register_named(token: str, explicit_key: str | None = None) -> None:
    computed_outputs(token)(lambda args: _named(args, explicit_key))


for _token, _explicit in {
    "azure-native:resources:ResourceGroup": "resourceGroupName",
    "azure-native:network:VirtualNetwork": "virtualNetworkName",
    "azure-native:network:Subnet": "subnetName",
    "azure-native:network:NetworkSecurityGroup": "networkSecurityGroupName",
    "azure-native:network:PrivateEndpoint": "privateEndpointName",
    "azure-native:network:PrivateDnsZoneGroup": "privateDnsZoneGroupName",
    "azure-native:privatedns:PrivateZone": "privateZoneName",
    "azure-native:privatedns:VirtualNetworkLink": "virtualNetworkLinkName",
    "azure-native:storage:StorageAccount": "accountName",
    "azure-native:storage:BlobServiceProperties": "blobServicesName",
    "azure-native:storage:BlobContainer": "containerName",
    "azure-native:keyvault:Secret": "secretName",
    "azure-native:dbforpostgresql:Database": "databaseName",
    "azure-native:containerservice:AgentPool": "agentPoolName",
    "azure-native:operationalinsights:Workspace": "workspaceName",
    "azure-native:managedidentity:FederatedIdentityCredential": (
        "federatedIdentityCredentialResourceName"
    ),
    "azure-native:network:VirtualNetworkGateway": "virtualNetworkGatewayName",
    "azure-native:network:LocalNetworkGateway": "localNetworkGatewayName",
    "azure-native:network:VirtualNetworkGatewayConnection": "virtualNetworkGatewayConnectionName",
    "azure-native:trafficmanager:Endpoint": "endpointName",
}.items():
    _register_named(_token, _explicit)


def principal_id(identity_name: str) -> str:
    """The mocked principal (object) id of the user-assigned identity named ``identity_name``."""
    return _guid("principal/" + identity_name)


def client_id(identity_name: str) -> str:
    return _guid("client/" + identity_name)


@computed_outputs("azure-native:managedidentity:UserAssignedIdentity")
def _identity(args: MockResourceArgs) -> Mapping[str, Any]:
    return {
        **_named(args, "resourceName"),
        "principalId": principal_id(args.name),
        "clientId": client_id(args.name),
        "tenantId": TENANT_ID,
    }


@computed_outputs("azure-native:keyvault:Vault")
def _vault(args: MockResourceArgs) -> Mapping[str, Any]:
    named = _named(args, "vaultName")
    properties = dict(args.inputs.get("properties") or {})
    properties["vaultUri"] = f"https://{named['name']}.vault.azure.net/"
    return {**named, "properties": properties}


@computed_outputs("azure-native:keyvault:Key")
def _key(args: MockResourceArgs) -> Mapping[str, Any]:
    named = _named(args, "keyName")
    uri = f"https://vault.vault.azure.net/keys/{named['name']}"
    return {**named, "keyUri": uri, "keyUriWithVersion": f"{uri}/0123456789abcdef"}


@computed_outputs("azure-native:containerregistry:Registry")
def _registry(args: MockResourceArgs) -> Mapping[str, Any]:
    named = _named(args, "registryName")
    return {**named, "loginServer": f"{named['name']}.azurecr.io"}


@computed_outputs("azure-native:dbforpostgresql:Server")
def _server(args: MockResourceArgs) -> Mapping[str, Any]:
    named = _named(args, "serverName")
    return {
        **named,
        "fullyQualifiedDomainName": f"{named['name']}.postgres.database.azure.com",
    }


@computed_outputs("azure-native:containerservice:ManagedCluster")
def _cluster(args: MockResourceArgs) -> Mapping[str, Any]:
    named = _named(args, "resourceName")
    identity = dict(args.inputs.get("identity") or {})
    # Azure answers the list of user-assigned identity ids with a map id -> principal/client.
    identity["userAssignedIdentities"] = {
        resource_id: {
            "principalId": _guid("p/" + resource_id),
            "clientId": _guid("c/" + resource_id),
        }
        for resource_id in identity.get("userAssignedIdentities") or []
    }
    return {
        **named,
        "identity": identity,
        "oidcIssuerProfile": {"enabled": True, "issuerURL": OIDC_ISSUER},
        "privateFQDN": f"{named['name']}.privatelink.westeurope.azmk8s.io",
    }


@invoke_result("azure-native:authorization:getClientConfig")
def _client_config(args: Mapping[str, Any]) -> Mapping[str, Any]:
    return {
        "clientId": "deployer-client",
        "objectId": _guid("deployer"),
        "subscriptionId": SUBSCRIPTION_ID,
        "tenantId": TENANT_ID,
    }


@invoke_result("azure-native:containerservice:listManagedClusterUserCredentials")
def _user_credentials(args: Mapping[str, Any]) -> Mapping[str, Any]:
    assert args.get("format") == "exec", "Entra ID clusters need the exec (kubelogin) format"
    encoded = base64.b64encode(KUBECONFIG.encode()).decode()
    return {"kubeconfigs": [{"name": "clusterUser", "value": encoded}]}


# --- the global layer: Traffic Manager, Azure DNS, the VPN gateway's public IP --------------------

#: The VPN gateway's public IP in offline runs (documentation range).
GATEWAY_PUBLIC_IP = "198.51.100.20"


@computed_outputs("azure-native:network:PublicIPAddress")
def _public_ip(args: MockResourceArgs) -> Mapping[str, Any]:
    return {**_named(args, "publicIpAddressName"), "ipAddress": GATEWAY_PUBLIC_IP}


@computed_outputs("azure-native:trafficmanager:Profile")
def _traffic_manager(args: MockResourceArgs) -> Mapping[str, Any]:
    dns_config = dict(args.inputs.get("dnsConfig") or {})
    dns_config["fqdn"] = f"{dns_config.get('relativeName')}.trafficmanager.net"
    return {**_named(args, "profileName"), "dnsConfig": dns_config}


@computed_outputs("azure-native:dns:Zone")
def _dns_zone(args: MockResourceArgs) -> Mapping[str, Any]:
    return {
        **_named(args, "zoneName"),
        "nameServers": [
            "ns1-01.azure-dns.com.",
            "ns2-01.azure-dns.net.",
            "ns3-01.azure-dns.org.",
            "ns4-01.azure-dns.info.",
        ],
    }


@computed_outputs("azure-native:dns:RecordSet")
def _record_set(args: MockResourceArgs) -> Mapping[str, Any]:
    relative = args.inputs.get("relativeRecordSetName")
    return {"name": relative, "fqdn": f"{relative}.{args.inputs.get('zoneName')}."}
