"""Run the real program for the shipped Azure stacks under mocks and check what it would deploy."""

from __future__ import annotations

import importlib
import inspect
import re
from functools import cache
from typing import Any

import pytest

from infra.azure import roles
from infra.azure.cluster import CONTROL_PLANE_LOGS, SPOT_TAINT
from infra.azure.naming import unique_suffix
from infra.foundation import WORKLOADS
from infra.offline import MOCK_PASSWORD, Registered, StackRun, run_stack
from infra.offline import azure as mocks
from tests.platform.azure.conftest import azure_section, expected_tags

STACKS = ("azure-dev", "azure-prod")
CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"


@pytest.fixture(scope="module", params=STACKS)
def run(request: pytest.FixtureRequest) -> StackRun:
    return run_stack(request.param)


@pytest.fixture
def section(run: StackRun) -> dict[str, Any]:
    return azure_section(run.stack)


def env(run: StackRun) -> str:
    return run.stack.split("-", 1)[1]


def by_id(run: StackRun) -> dict[str, Registered]:
    """The mock gives every resource the id ``<name>-id``."""
    return {f"{r.name}-id": r for r in run.resources if r.custom}


# --- cluster -----------------------------------------------------------------------------------


def test_cluster_is_private_with_entra_id_rbac_and_no_local_accounts(
    run: StackRun, section: dict[str, Any]
) -> None:
    cluster = run.one(CLUSTER)
    assert cluster.get("apiServerAccessProfile.enablePrivateCluster") is True
    assert cluster.get("apiServerAccessProfile.enablePrivateClusterPublicFQDN") is False
    assert cluster.get("apiServerAccessProfile.enableVnetIntegration") is True
    assert cluster.get("disableLocalAccounts") is True
    assert cluster.get("enableRBAC") is True
    assert cluster.get("aadProfile.managed") is True
    assert cluster.get("aadProfile.enableAzureRBAC") is True
    assert cluster.get("aadProfile.tenantID") == mocks.TENANT_ID
    assert (
        cluster.get("aadProfile.adminGroupObjectIDs") == section["cluster"]["adminGroupObjectIds"]
    )
    api_subnet = by_id(run)[cluster.get("apiServerAccessProfile.subnetId")]
    assert api_subnet.type == "azure-native:network:Subnet"
    assert api_subnet.name.endswith("-apiserver")


def test_cluster_has_oidc_issuer_and_workload_identity(run: StackRun) -> None:
    cluster = run.one(CLUSTER)
    assert cluster.get("oidcIssuerProfile.enabled") is True
    assert cluster.get("securityProfile.workloadIdentity.enabled") is True


def test_cluster_network_kms_upgrades_and_version_follow_config(
    run: StackRun, section: dict[str, Any]
) -> None:
    cluster = run.one(CLUSTER)
    assert cluster.get("kubernetesVersion") == section["cluster"]["kubernetesVersion"]
    assert cluster.get("networkProfile.networkPlugin") == "azure"
    assert cluster.get("networkProfile.networkPluginMode") == "overlay"
    assert cluster.get("networkProfile.networkPolicy") == section["cluster"]["networkPolicy"]
    assert cluster.get("sku.tier") == section["cluster"]["skuTier"]
    assert cluster.get("autoUpgradeProfile.upgradeChannel") == section["cluster"]["upgradeChannel"]
    kms = cluster.get("securityProfile.azureKeyVaultKms")
    assert kms["enabled"] is True
    assert kms["keyVaultNetworkAccess"] == "Private"
    assert kms["keyId"].startswith("https://")
    assert kms["keyId"].count("/") >= 5  # a versioned key URL
    assert by_id(run)[kms["keyVaultResourceId"]].type == "azure-native:keyvault:Vault"
    assert cluster.get("identity.type") == "UserAssigned"


def test_cluster_logs_keep_api_server_and_audit(run: StackRun, section: dict[str, Any]) -> None:
    cluster = run.one(CLUSTER)
    workspace = run.one("azure-native:operationalinsights:Workspace")
    assert workspace.get("retentionInDays") == section["cluster"]["logRetentionDays"]
    setting = run.one("azure-native:monitor:DiagnosticSetting")
    assert setting.get("resourceUri") == f"{cluster.name}-id"
    assert setting.get("workspaceId") == f"{workspace.name}-id"
    enabled = {log["category"] for log in setting.get("logs") if log["enabled"]}
    assert {"kube-apiserver", "kube-audit"} <= enabled
    assert enabled == set(CONTROL_PLANE_LOGS)
    oms = cluster.get("addonProfiles.omsagent")
    assert oms["enabled"] is True
    assert oms["config"]["logAnalyticsWorkspaceResourceID"] == f"{workspace.name}-id"


def test_node_pools_are_separate_resources_with_config_bounds(
    run: StackRun, section: dict[str, Any]
) -> None:
    pools_cfg = section["cluster"]["nodePools"]
    cluster = run.one(CLUSTER)
    # Only the create-time System pool is inline (see infra.azure.cluster.Cluster).
    inline = cluster.get("agentPoolProfiles")
    assert [p["name"] for p in inline] == ["system"]
    assert inline[0]["mode"] == "System"
    assert inline[0]["vmSize"] == pools_cfg["system"]["vmSize"]
    assert inline[0]["enableAutoScaling"] is True
    assert (inline[0]["minCount"], inline[0]["maxCount"], inline[0]["count"]) == (
        pools_cfg["system"]["minSize"],
        pools_cfg["system"]["maxSize"],
        pools_cfg["system"]["desiredSize"],
    )
    assert inline[0]["nodeLabels"] == {
        "stratus.io/pool": "system",
        "stratus.io/capacity": "on-demand",
    }
    assert inline[0]["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]

    pools = {p.get("agentPoolName"): p for p in run.of_type(AGENT_POOL)}
    expected = {"api", "training"} | ({"gpu"} if "gpu" in pools_cfg else set())
    assert set(pools) == expected
    for pool_name, pool in pools.items():
        cfg = pools_cfg[pool_name]
        assert pool.get("mode") == "User"
        assert pool.get("resourceName") == f"{cluster.name}1a2b3c4d"  # the cluster's name
        assert pool.get("enableAutoScaling") is True
        assert (pool.get("minCount"), pool.get("maxCount"), pool.get("count")) == (
            cfg["minSize"],
            cfg["maxSize"],
            cfg["desiredSize"],
        )
        assert pool.get("nodeLabels")["stratus.io/pool"] == pool_name
        assert pool.get("vmSize") == cfg["vmSize"]
        assert pool.get("orchestratorVersion") == section["cluster"]["kubernetesVersion"]
        assert by_id(run)[pool.get("vnetSubnetID")].name.endswith("-nodes")


def test_cluster_never_rewrites_pools_and_autoscaler_owns_counts(
    run: StackRun, section: dict[str, Any]
) -> None:
    cluster = run.one(CLUSTER)
    assert "agentPoolProfiles" in cluster.ignore_changes
    follows_upgrades = section["cluster"]["upgradeChannel"] in {"stable", "rapid"}
    assert ("kubernetesVersion" in cluster.ignore_changes) == follows_upgrades
    for pool in run.of_type(AGENT_POOL):
        ignored = pool.ignore_changes
        assert "count" in ignored
        assert ("orchestratorVersion" in ignored) == follows_upgrades


def test_every_child_is_parented_by_its_component(run: StackRun) -> None:
    components = {r.name for r in run.resources if r.type.startswith("stratus:azure:")}
    prefix = f"stratus-{env(run)}-"
    assert {n for n in components if n.startswith(prefix)} == {
        prefix + c
        for c in (
            "net",
            "vault",
            "registry",
            "storage",
            "cluster",
            "mlflow",
            "workloads",
            "budget",
            "delivery",
        )
    }
    for resource in run.resources:
        if not resource.custom or resource.type == "azure-native:resources:ResourceGroup":
            continue
        parent_urn = resource.parent
        qualified_type, parent_name = parent_urn.split("::")[-2:]
        parent_type = qualified_type.split("$")[-1]
        assert parent_type.startswith("stratus:azure:"), f"{resource.name} has no component parent"
        assert resource.name.startswith(parent_name + "-"), resource.name


def test_training_pool_is_spot_with_the_spot_taint(run: StackRun) -> None:
    pools = {p.get("agentPoolName"): p for p in run.of_type(AGENT_POOL)}
    training = pools["training"]
    assert training.get("scaleSetPriority") == "Spot"
    assert training.get("scaleSetEvictionPolicy") == "Delete"
    assert training.get("nodeTaints") == ["stratus.io/pool=training:NoSchedule", SPOT_TAINT]
    assert training.get("nodeLabels") == {
        "stratus.io/pool": "training",
        "stratus.io/capacity": "spot",
    }
    for name, pool in pools.items():
        if name != "training":
            assert pool.get("scaleSetPriority") == "Regular"


def test_gpu_pool_only_where_configured(run: StackRun, section: dict[str, Any]) -> None:
    names = {p.get("agentPoolName") for p in run.of_type(AGENT_POOL)}
    assert ("gpu" in names) == ("gpu" in section["cluster"]["nodePools"])
    assert ("gpu" in names) == (env(run) == "prod")


# --- registry, storage, key vault, database -----------------------------------------------------


def private_endpoint_to(run: StackRun, target: Registered, group: str) -> Registered:
    endpoints = [
        pe
        for pe in run.of_type("azure-native:network:PrivateEndpoint")
        if pe.get("privateLinkServiceConnections.0.privateLinkServiceId") == f"{target.name}-id"
    ]
    assert len(endpoints) == 1, f"no single private endpoint to {target.name}"
    endpoint = endpoints[0]
    assert endpoint.get("privateLinkServiceConnections.0.groupIds") == [group]
    assert by_id(run)[endpoint.get("subnet.id")].name.endswith("-endpoints")
    zone_groups = [
        g
        for g in run.of_type("azure-native:network:PrivateDnsZoneGroup")
        if g.get("privateEndpointName") == f"{endpoint.name}1a2b3c4d"
    ]
    assert len(zone_groups) == 1
    zone = by_id(run)[zone_groups[0].get("privateDnsZoneConfigs.0.privateDnsZoneId")]
    assert zone.type == "azure-native:privatedns:PrivateZone"
    return endpoint


def test_registry_denies_public_access(run: StackRun, section: dict[str, Any]) -> None:
    acr = run.one("azure-native:containerregistry:Registry")
    assert acr.get("sku.name") == "Premium"
    assert acr.get("publicNetworkAccess") == "Disabled"
    assert acr.get("adminUserEnabled") is False
    assert acr.get("anonymousPullEnabled") is False
    assert acr.get("networkRuleSet.defaultAction") == "Deny"
    assert acr.get("policies.retentionPolicy.status") == "enabled"
    assert acr.get("policies.retentionPolicy.days") == section["registry"]["untaggedRetentionDays"]
    private_endpoint_to(run, acr, "registry")


def test_storage_denies_public_access_and_enforces_tls12_https_entra_only(
    run: StackRun, section: dict[str, Any]
) -> None:
    account = run.one("azure-native:storage:StorageAccount")
    assert account.get("enableHttpsTrafficOnly") is True
    assert account.get("minimumTlsVersion") == "TLS1_2"
    assert account.get("allowBlobPublicAccess") is False
    assert account.get("allowSharedKeyAccess") is False
    assert account.get("publicNetworkAccess") == "Disabled"
    assert account.get("networkRuleSet.defaultAction") == "Deny"
    assert account.get("sku.name") == f"Standard_{section['storage']['replication']}"
    private_endpoint_to(run, account, "blob")

    service = run.one("azure-native:storage:BlobServiceProperties")
    assert service.get("isVersioningEnabled") is True
    days = section["storage"]["softDeleteDays"]
    assert service.get("deleteRetentionPolicy") == {"enabled": True, "days": days}
    assert service.get("containerDeleteRetentionPolicy") == {"enabled": True, "days": days}

    containers = run.of_type("azure-native:storage:BlobContainer")
    assert {c.get("containerName") for c in containers} == {
        "data-raw",
        "data-processed",
        "models",
        "mlflow-artifacts",
    }
    assert all(c.get("publicAccess") == "None" for c in containers)


def test_prod_storage_is_zone_redundant(run: StackRun) -> None:
    sku = run.one("azure-native:storage:StorageAccount").get("sku.name")
    if env(run) == "prod":
        assert sku in {"Standard_ZRS", "Standard_GZRS", "Standard_RAGZRS"}
    else:
        assert sku == "Standard_LRS"


def test_key_vault_rbac_private_and_purge_protected_in_prod_only(run: StackRun) -> None:
    """Purge protection keeps a deleted vault's name for the retention period: every destroy
    → up of a dev stack would fail. Azure also refuses an explicit ``false``: it is left out."""
    vault = run.one("azure-native:keyvault:Vault")
    props = vault.get("properties")
    assert props["enableRbacAuthorization"] is True
    if env(run) == "prod":
        assert props["enablePurgeProtection"] is True
    else:
        assert "enablePurgeProtection" not in props
    assert props["publicNetworkAccess"] == "Disabled"
    assert props["networkAcls"]["defaultAction"] == "Deny"
    assert props["tenantId"] == mocks.TENANT_ID
    private_endpoint_to(run, vault, "vault")


def test_database_is_private_with_backups_and_prod_ha(
    run: StackRun, section: dict[str, Any]
) -> None:
    server = run.one("azure-native:dbforpostgresql:Server")
    db_cfg = section["database"]
    assert server.get("network.publicNetworkAccess") == "Disabled"
    assert by_id(run)[server.get("network.delegatedSubnetResourceId")].name.endswith("-database")
    zone = by_id(run)[server.get("network.privateDnsZoneArmResourceId")]
    assert zone.get("privateZoneName").endswith(".private.postgres.database.azure.com")
    assert server.get("backup.backupRetentionDays") == db_cfg["backupRetentionDays"]
    assert server.get("highAvailability.mode") == db_cfg["highAvailability"]
    assert server.get("version") == db_cfg["version"]
    if env(run) == "prod":
        assert server.get("highAvailability.mode") == "ZoneRedundant"
        assert server.get("backup.geoRedundantBackup") == "Enabled"
    assert run.one("azure-native:dbforpostgresql:Database").get("databaseName") == "mlflow"
    secrets = {s.get("secretName") for s in run.of_type("azure-native:keyvault:Secret")}
    assert secrets == {"mlflow-db-password", "mlflow-db-dsn"}


def nsg_rules(run: StackRun, subnet_role: str) -> dict[str, dict[str, Any]]:
    subnet = next(
        s for s in run.of_type("azure-native:network:Subnet") if s.name.endswith(f"-{subnet_role}")
    )
    nsg = by_id(run)[subnet.get("networkSecurityGroup.id")]
    return {rule["name"]: rule for rule in nsg.get("securityRules")}


def test_private_subnets_admit_only_the_cluster_and_the_deployers(
    run: StackRun, section: dict[str, Any]
) -> None:
    net = section["network"]
    endpoints = nsg_rules(run, "endpoints")
    allows = {name: r for name, r in endpoints.items() if r["access"] == "Allow"}
    assert allows["allow-nodes-https"]["sourceAddressPrefix"] == net["nodesSubnet"]
    assert allows["allow-apiserver-https"]["sourceAddressPrefix"] == net["apiServerSubnet"]
    # Deployers push images, read the vault, upload data through the private endpoints.
    assert allows["allow-deployers-https"]["sourceAddressPrefix"] == net["deployerSubnet"]
    assert set(allows) == {"allow-nodes-https", "allow-apiserver-https", "allow-deployers-https"}
    assert all(r["destinationPortRanges"] == ["443"] for r in allows.values())
    database = nsg_rules(run, "database")
    assert database["allow-nodes-pg"]["sourceAddressPrefix"] == net["nodesSubnet"]
    assert database["allow-nodes-pg"]["destinationPortRanges"] == ["5432"]
    for rules in (endpoints, database):
        deny = rules["deny-vnet"]
        assert (deny["access"], deny["sourceAddressPrefix"]) == ("Deny", "VirtualNetwork")
        allow_priorities = [r["priority"] for r in rules.values() if r["access"] == "Allow"]
        assert deny["priority"] > max(allow_priorities)


def test_database_subnet_lets_zone_redundant_ha_replicate(
    run: StackRun, section: dict[str, Any]
) -> None:
    """HA replicates between primary and standby inside the delegated subnet: the subnet's own
    range is allowed on 5432 before the VNet deny, and WAL archiving reaches Storage through the
    service endpoint Microsoft recommends."""
    net = section["network"]
    database = nsg_rules(run, "database")
    internal = database["allow-database-subnet"]
    assert internal["access"] == "Allow"
    assert internal["sourceAddressPrefix"] == net["databaseSubnet"]
    assert internal["destinationPortRanges"] == ["5432"]
    assert internal["priority"] < database["deny-vnet"]["priority"]
    subnet = next(
        s for s in run.of_type("azure-native:network:Subnet") if s.name.endswith("-database")
    )
    assert subnet.get("serviceEndpoints") == [{"service": "Microsoft.Storage"}]


def test_deployers_reach_the_private_api_server(run: StackRun, section: dict[str, Any]) -> None:
    api = nsg_rules(run, "apiserver")
    assert api["allow-vnet-https"]["sourceAddressPrefix"] == "VirtualNetwork"
    deployers = api["allow-deployers-https"]
    assert deployers["sourceAddressPrefix"] == section["network"]["deployerSubnet"]
    assert deployers["destinationPortRanges"] == ["443"]
    assert run.outputs["network"]["details"]["deployerSubnetId"].endswith("-deployers-id")


def test_deployer_networks_from_config_reach_the_api_server_and_endpoints() -> None:
    section = azure_section("azure-dev")
    section["network"]["deployerCidrs"] = ["172.16.0.0/20"]
    run = run_stack("azure-dev", override={"stratus:azure": section})
    expected = [section["network"]["deployerSubnet"], "172.16.0.0/20"]
    for role in ("apiserver", "endpoints"):
        rule = nsg_rules(run, role)["allow-deployers-https"]
        assert rule["sourceAddressPrefixes"] == expected
        assert rule["destinationPortRanges"] == ["443"]


def test_network_subnets_have_nsgs_and_delegations(run: StackRun, section: dict[str, Any]) -> None:
    ids = by_id(run)
    subnets = {s.name.rsplit("-", 1)[1]: s for s in run.of_type("azure-native:network:Subnet")}
    # The GatewaySubnet takes no NSG (Azure rule): see test_gateway_subnet.py
    subnets.pop("gateway", None)
    assert set(subnets) == {"nodes", "apiserver", "endpoints", "database", "deployers"}
    net_cfg = section["network"]
    prefixes = {
        "nodes": net_cfg["nodesSubnet"],
        "apiserver": net_cfg["apiServerSubnet"],
        "endpoints": net_cfg["endpointsSubnet"],
        "database": net_cfg["databaseSubnet"],
        "deployers": net_cfg["deployerSubnet"],
    }
    for role, subnet in subnets.items():
        assert subnet.get("addressPrefix") == prefixes[role]
        nsg = ids[subnet.get("networkSecurityGroup.id")]
        assert nsg.type == "azure-native:network:NetworkSecurityGroup"
    assert subnets["database"].get("delegations.0.serviceName") == (
        "Microsoft.DBforPostgreSQL/flexibleServers"
    )
    assert subnets["apiserver"].get("delegations.0.serviceName") == (
        "Microsoft.ContainerService/managedClusters"
    )
    zones = {z.get("privateZoneName") for z in run.of_type("azure-native:privatedns:PrivateZone")}
    assert {
        "privatelink.blob.core.windows.net",
        "privatelink.azurecr.io",
        "privatelink.vaultcore.azure.net",
    } <= zones
    links = run.of_type("azure-native:privatedns:VirtualNetworkLink")
    assert len(links) == len(zones)
    vnet = run.one("azure-native:network:VirtualNetwork")
    assert all(link.get("virtualNetwork.id") == f"{vnet.name}-id" for link in links)


# --- identity and access ------------------------------------------------------------------------


def test_role_assignments_are_least_privilege(run: StackRun) -> None:
    ids = by_id(run)
    principals = {mocks.principal_id(i.name): i.name for i in run.of_type(IDENTITY)}
    prefix = f"stratus-{env(run)}"
    role_prefix = (
        f"/subscriptions/{mocks.SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/"
    )

    granted: set[tuple[str, str, str]] = set()
    for assignment in run.of_type(ROLE_ASSIGNMENT):
        role_id = assignment.get("roleDefinitionId")
        assert role_id.startswith(role_prefix)
        role = roles.ROLE_NAMES[role_id.removeprefix(role_prefix)]
        if "-delivery-" in assignment.name:
            continue  # the CI identities (deploy owns the group): tests/platform/test_delivery.py
        scope = ids[assignment.get("scope")]  # a resource of this stack, never a group/subscription
        assert scope.type != "azure-native:resources:ResourceGroup"
        if assignment.get("principalType") == "Group":
            continue  # the cluster admins, checked below
        assert assignment.get("principalType") == "ServicePrincipal"
        who = principals[assignment.get("principalId")].removeprefix(prefix + "-")
        granted.add((who, role, scope.name.removeprefix(prefix + "-")))

    assert granted == {
        ("workloads-ml-api", "Storage Blob Data Reader", "storage-models"),
        ("workloads-training", "Storage Blob Data Reader", "storage-data-raw"),
        ("workloads-training", "Storage Blob Data Contributor", "storage-data-processed"),
        ("workloads-training", "Storage Blob Data Contributor", "storage-models"),
        ("workloads-training", "Storage Blob Data Contributor", "storage-mlflow-artifacts"),
        ("workloads-mlflow", "Storage Blob Data Contributor", "storage-mlflow-artifacts"),
        ("workloads-external-secrets", "Key Vault Secrets User", "vault-kv"),
        ("cluster-control-plane", "Managed Identity Operator", "cluster-kubelet"),
        ("cluster-control-plane", "Network Contributor", "net-nodes"),
        ("cluster-control-plane", "Network Contributor", "net-apiserver"),
        ("cluster-control-plane", "Key Vault Crypto User", "vault-kms"),
        ("cluster-control-plane", "Key Vault Contributor", "vault-kv"),
        ("cluster-kubelet", "AcrPull", "registry-acr"),
    }


def test_configured_admin_groups_are_cluster_admins(run: StackRun, section: dict[str, Any]) -> None:
    """Local accounts are off: without this assignment nobody could use the cluster."""
    cluster = run.one(CLUSTER)
    admins = [a for a in run.of_type(ROLE_ASSIGNMENT) if a.get("principalType") == "Group"]
    assert sorted(a.get("principalId") for a in admins) == sorted(
        section["cluster"]["adminGroupObjectIds"]
    )
    for assignment in admins:
        assert assignment.get("roleDefinitionId").endswith(roles.AKS_RBAC_CLUSTER_ADMIN)
        assert assignment.get("scope") == f"{cluster.name}-id"


def test_federated_credentials_bind_each_service_account(run: StackRun) -> None:
    credentials = [
        c
        for c in run.of_type("azure-native:managedidentity:FederatedIdentityCredential")
        if "-delivery-" not in c.name  # the CI identities, tests/platform/test_delivery.py
    ]
    subjects = {c.get("subject") for c in credentials}
    assert subjects == {
        f"system:serviceaccount:{namespace}:{sa}" for namespace, sa in WORKLOADS.values()
    }
    for credential in credentials:
        assert credential.get("issuer") == mocks.OIDC_ISSUER
        assert credential.get("audiences") == ["api://AzureADTokenExchange"]


def test_container_insights_has_a_data_collection_rule_on_the_cluster(run: StackRun) -> None:
    """With Entra ID auth, Container Insights collects nothing without a DCR and association."""
    cluster = run.one(CLUSTER)
    workspace = run.one("azure-native:operationalinsights:Workspace")
    rule = run.one("azure-native:monitor:DataCollectionRule")
    (extension,) = rule.get("dataSources.extensions")
    assert extension["extensionName"] == "ContainerInsights"
    assert extension["streams"] == ["Microsoft-ContainerInsights-Group-Default"]
    (destination,) = rule.get("destinations.logAnalytics")
    assert destination["workspaceResourceId"] == f"{workspace.name}-id"
    (flow,) = rule.get("dataFlows")
    assert flow == {
        "streams": ["Microsoft-ContainerInsights-Group-Default"],
        "destinations": [destination["name"]],
    }
    association = run.one("azure-native:monitor:DataCollectionRuleAssociation")
    assert association.get("resourceUri") == f"{cluster.name}-id"
    assert association.get("dataCollectionRuleId") == f"{rule.name}-id"
    assert association.get("associationName") == "ContainerInsightsExtension"


def test_upgrades_happen_in_the_planned_maintenance_window(
    run: StackRun, section: dict[str, Any]
) -> None:
    window = section["cluster"]["maintenance"]
    configs = {
        c.get("configName"): c
        for c in run.of_type("azure-native:containerservice:MaintenanceConfiguration")
    }
    assert set(configs) == {"aksManagedAutoUpgradeSchedule", "aksManagedNodeOSUpgradeSchedule"}
    for config in configs.values():
        assert config.get("maintenanceWindow") == {
            "schedule": {"weekly": {"dayOfWeek": window["dayOfWeek"], "intervalWeeks": 1}},
            "startTime": window["startTime"],
            "durationHours": window["durationHours"],
            "utcOffset": window["utcOffset"],
        }


def test_kms_key_rotates_by_policy(run: StackRun) -> None:
    key = run.one("azure-native:keyvault:Key")
    policy = key.get("properties.rotationPolicy")
    actions = {a["action"]["type"]: a["trigger"] for a in policy["lifetimeActions"]}
    assert actions["rotate"] == {"timeAfterCreate": "P180D"}
    assert actions["notify"] == {"timeBeforeExpiry": "P30D"}
    assert policy["attributes"] == {"expiryTime": "P360D"}


def test_old_blob_versions_expire(run: StackRun, section: dict[str, Any]) -> None:
    policy = run.one("azure-native:storage:ManagementPolicy")
    (rule,) = policy.get("policy.rules")
    assert rule["enabled"] is True
    assert rule["definition"]["actions"] == {
        "version": {
            "delete": {"daysAfterCreationGreaterThan": section["storage"]["versionRetentionDays"]}
        }
    }


# --- tags, secrets, outputs ---------------------------------------------------------------------


@cache
def _accepts_tags(resource_type: str) -> bool:
    """Whether the provider's resource class takes ``tags`` (the honest meaning of taggable)."""
    package, module, name = resource_type.split(":")
    if package == "azure-native":
        cls = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), name)
    elif package == "random":
        cls = getattr(importlib.import_module("pulumi_random"), name)
    elif resource_type == "pulumi:providers:kubernetes":
        cls = importlib.import_module("pulumi_kubernetes").Provider
    else:
        raise AssertionError(f"unexpected resource type {resource_type}")
    return "tags" in inspect.signature(cls._internal_init).parameters


def test_everything_taggable_is_tagged(run: StackRun) -> None:
    tags = expected_tags(run.stack)
    taggable = [r for r in run.resources if r.custom and _accepts_tags(r.type)]
    untagged = [f"{r.type} {r.name}" for r in taggable if r.inputs.get("tags") != tags]
    assert untagged == []
    assert len(taggable) >= 30
    # Known untaggable types really are untaggable (guards the check above).
    assert not _accepts_tags(ROLE_ASSIGNMENT)
    assert not _accepts_tags("azure-native:storage:BlobContainer")
    assert _accepts_tags(AGENT_POOL)
    assert run.one(CLUSTER).get("agentPoolProfiles.0.tags") == tags


def test_no_secret_in_plain_text(run: StackRun) -> None:
    assert run.plaintext_occurrences(MOCK_PASSWORD) == []
    # ... and the password really does flow where it must, as a secret.
    server = run.one("azure-native:dbforpostgresql:Server")
    assert server.get("administratorLoginPassword").startswith(MOCK_PASSWORD)
    assert "administratorLoginPassword" in server.secret_paths
    assert run.secret_outputs == {"kubeconfig"}
    assert "kubelogin" in run.outputs["kubeconfig"]
    # The foundation creates no Kubernetes objects: no Kubernetes provider either.
    assert run.of_type("pulumi:providers:kubernetes") == []


def test_stack_outputs_describe_the_foundation(run: StackRun) -> None:
    out = run.outputs
    assert out["cloud"] == "azure"
    assert out["region"] == azure_region(run.stack)
    assert out["stores"]["models"] == "az://models"
    assert out["stores"]["dataRaw"] == "az://data-raw"
    account = run.one("azure-native:storage:StorageAccount").get("accountName")
    assert out["stores"]["storageOptions"] == {"account_name": account}
    assert out["registry"]["api"].endswith(".azurecr.io/stratus/ml-api")
    assert out["database"]["password"] == {
        "store": "azure-key-vault",
        "name": "mlflow-db-password",
        "property": None,
    }
    assert out["secretStore"]["vaultUrl"].endswith(".vault.azure.net/")
    assert out["capabilities"] == {
        "metricsServer": "cloud",
        "clusterAutoscaler": "cloud",
        "gpuDevicePlugin": "install",
        "loadBalancerController": "cloud",
    }
    assert out["ingress"] == {
        "className": "webapprouting.kubernetes.azure.com",
        "controller": "aks-app-routing",
        "namespace": "app-routing-system",
        "annotations": {},
        "serviceAnnotations": {},
    }
    assert out["stores"]["mlflowArtifactsUri"] == (
        f"wasbs://mlflow-artifacts@{account}.blob.core.windows.net/"
    )


def azure_region(stack: str) -> str:
    from tests.platform.azure.conftest import stack_document

    return str(stack_document(stack)["azure-native:location"])


#: Resources per type for each shipped stack: a change here is infrastructure churn to review.
EXPECTED_COUNTS: dict[str, dict[str, int]] = {
    "azure-dev": {
        # 13 workload / cluster grants + 1 admin group + 5 CI identity grants
        "azure-native:authorization:RoleAssignment": 19,
        "azure-native:consumption:Budget": 1,
        "stratus:azure:Budget": 1,
        "azure-native:containerregistry:Registry": 1,
        "azure-native:containerservice:AgentPool": 2,
        "azure-native:containerservice:ManagedCluster": 1,
        "azure-native:dbforpostgresql:Database": 1,
        "azure-native:dbforpostgresql:Server": 1,
        "azure-native:keyvault:Key": 1,
        "azure-native:keyvault:Secret": 2,
        "azure-native:keyvault:Vault": 1,
        "azure-native:containerservice:MaintenanceConfiguration": 2,
        # 4 workloads + 3 CI identities (deploy, preview, images)
        "azure-native:managedidentity:FederatedIdentityCredential": 7,
        "azure-native:managedidentity:UserAssignedIdentity": 9,
        "stratus:azure:DeliveryIdentities": 1,
        "azure-native:monitor:DataCollectionRule": 1,
        "azure-native:monitor:DataCollectionRuleAssociation": 1,
        "azure-native:monitor:DiagnosticSetting": 1,
        "azure-native:network:NetworkSecurityGroup": 5,
        "azure-native:network:PrivateDnsZoneGroup": 3,
        "azure-native:network:PrivateEndpoint": 3,
        "azure-native:network:Subnet": 5,
        "azure-native:network:VirtualNetwork": 1,
        "azure-native:operationalinsights:Workspace": 1,
        "azure-native:privatedns:PrivateZone": 4,
        "azure-native:privatedns:VirtualNetworkLink": 4,
        "azure-native:resources:ResourceGroup": 1,
        "azure-native:storage:BlobContainer": 4,
        "azure-native:storage:BlobServiceProperties": 1,
        "azure-native:storage:ManagementPolicy": 1,
        "azure-native:storage:StorageAccount": 1,
        "random:index/randomPassword:RandomPassword": 1,
        "stratus:azure:Cluster": 1,
        "stratus:azure:Database": 1,
        "stratus:azure:KeyVault": 1,
        "stratus:azure:Network": 1,
        "stratus:azure:Registry": 1,
        "stratus:azure:Storage": 1,
        "stratus:azure:WorkloadIdentities": 1,
    },
    "azure-prod": {
        # 13 workload / cluster grants + 1 admin group + 5 CI identity grants
        "azure-native:authorization:RoleAssignment": 19,
        "azure-native:consumption:Budget": 1,
        "stratus:azure:Budget": 1,
        "azure-native:containerregistry:Registry": 1,
        "azure-native:containerservice:AgentPool": 3,
        "azure-native:containerservice:ManagedCluster": 1,
        "azure-native:dbforpostgresql:Database": 1,
        "azure-native:dbforpostgresql:Server": 1,
        "azure-native:keyvault:Key": 1,
        "azure-native:keyvault:Secret": 2,
        "azure-native:keyvault:Vault": 1,
        "azure-native:containerservice:MaintenanceConfiguration": 2,
        # 4 workloads + 3 CI identities (deploy, preview, images)
        "azure-native:managedidentity:FederatedIdentityCredential": 7,
        "azure-native:managedidentity:UserAssignedIdentity": 9,
        "stratus:azure:DeliveryIdentities": 1,
        "azure-native:monitor:DataCollectionRule": 1,
        "azure-native:monitor:DataCollectionRuleAssociation": 1,
        "azure-native:monitor:DiagnosticSetting": 1,
        "azure-native:network:NetworkSecurityGroup": 5,
        "azure-native:network:PrivateDnsZoneGroup": 3,
        "azure-native:network:PrivateEndpoint": 3,
        "azure-native:network:Subnet": 6,
        "azure-native:network:VirtualNetwork": 1,
        "azure-native:operationalinsights:Workspace": 1,
        "azure-native:privatedns:PrivateZone": 4,
        "azure-native:privatedns:VirtualNetworkLink": 4,
        "azure-native:resources:ResourceGroup": 1,
        "azure-native:storage:BlobContainer": 4,
        "azure-native:storage:BlobServiceProperties": 1,
        "azure-native:storage:ManagementPolicy": 1,
        "azure-native:storage:StorageAccount": 1,
        "random:index/randomPassword:RandomPassword": 1,
        "stratus:azure:Cluster": 1,
        "stratus:azure:Database": 1,
        "stratus:azure:KeyVault": 1,
        "stratus:azure:Network": 1,
        "stratus:azure:Registry": 1,
        "stratus:azure:Storage": 1,
        "stratus:azure:WorkloadIdentities": 1,
    },
}


def test_resource_count_per_type(run: StackRun) -> None:
    assert run.count_by_type() == EXPECTED_COUNTS[run.stack]


def test_globally_unique_names_fit_azure_rules(run: StackRun) -> None:
    suffix = unique_suffix(mocks.SUBSCRIPTION_ID, "stratus", run.stack)
    short_env = env(run)[:4]
    vault = run.one("azure-native:keyvault:Vault").get("vaultName")
    account = run.one("azure-native:storage:StorageAccount").get("accountName")
    registry = run.one("azure-native:containerregistry:Registry").get("registryName")
    assert vault == f"stratus-{short_env}-{suffix}"
    assert re.fullmatch(r"[a-z][a-z0-9-]{1,22}[a-z0-9]", vault)
    assert account == f"stratus{short_env}{suffix}"
    assert re.fullmatch(r"[a-z0-9]{3,24}", account)
    assert re.fullmatch(r"[a-zA-Z0-9]{5,50}", registry)
    other = "azure-prod" if run.stack == "azure-dev" else "azure-dev"
    assert unique_suffix(mocks.SUBSCRIPTION_ID, "stratus", other) != suffix
