"""The AKS cluster: private API server, Entra ID + Azure RBAC with the configured admin groups as
cluster admins, no local accounts, OIDC issuer and workload identity, Azure CNI overlay with a
network policy, KMS etcd encryption with the platform Key Vault, Log Analytics with API-server and
audit logs and Container Insights (a data collection rule), automatic upgrades inside a planned
maintenance window, and node pools labelled and tainted as :mod:`infra.scheduling` says."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.containerservice as containerservice
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.operationalinsights as operationalinsights

from infra.azure import roles
from infra.azure.config import AzurePool, ClusterConfig, MaintenanceWindow, NetworkConfig, SpotPool
from infra.scheduling import AZURE_SPOT_TAINT, POOL_TAINTS, Pool, node_labels

#: The taint AKS puts on Spot nodes; workloads must tolerate it to land there.
SPOT_TAINT = str(AZURE_SPOT_TAINT)
#: What Container Insights collects (the "Default" group: pods, nodes, containers, logs).
CONTAINER_INSIGHTS_STREAMS = ("Microsoft-ContainerInsights-Group-Default",)
#: AKS's two automatic-upgrade schedules, both inside the configured window.
MAINTENANCE_CONFIGURATIONS = ("aksManagedAutoUpgradeSchedule", "aksManagedNodeOSUpgradeSchedule")
#: Control-plane log categories kept in Log Analytics.
CONTROL_PLANE_LOGS = (
    "kube-apiserver",
    "kube-audit",
    "kube-audit-admin",
    "kube-controller-manager",
    "cluster-autoscaler",
    "guard",
)


@dataclass(frozen=True)
class ClusterArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    tenant_id: pulumi.Input[str]
    config: ClusterConfig
    network: NetworkConfig
    nodes_subnet_id: pulumi.Input[str]
    api_server_subnet_id: pulumi.Input[str]
    registry_id: pulumi.Input[str]
    key_vault_id: pulumi.Input[str]
    kms_key_id: pulumi.Input[str]
    kms_key_version_uri: pulumi.Input[str]
    tags: Mapping[str, str]


class Cluster(pulumi.ComponentResource):
    """A private AKS cluster and its node pools.

    Node pools. AKS cannot create a cluster without one System pool in ``agentPoolProfiles``, and a
    ``ManagedCluster`` PUT that lists pools fights with separately managed ``AgentPool`` resources
    (pulumi/pulumi-azure-native#579, #2719, #4264). Following the provider maintainers' guidance
    (#579: "at least one agent pool is required inline ... all additional agent pools must be
    created as separate resources"), the cluster carries exactly one inline profile, the
    ``system`` pool (from ``nodePools.system``), and ignores later changes to
    ``agentPoolProfiles``, so the cluster resource never rewrites pools. Every other pool — ``api``,
    ``training`` (Spot) and ``gpu`` — is its own ``AgentPool`` resource. Changing the system pool
    later is the documented AKS rotation: add a new System-mode ``AgentPool``, then delete the
    old pool with ``az aks nodepool delete``.

    Identities. The control plane and the kubelet use user-assigned identities, so their role
    assignments (subnets, KMS key, AcrPull) exist before the cluster is created, as KMS requires.
    """

    cluster_name: pulumi.Output[str]
    cluster_id: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    private_fqdn: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    workspace_id: pulumi.Output[str]
    kubelet_principal_id: pulumi.Output[str]
    #: The user pools (``api``, ``training``, optional ``gpu``) as ``AgentPool`` resources.
    pools: list[containerservice.AgentPool]

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:azure:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.config
        rg = args.resource_group_name

        control_plane = managedidentity.UserAssignedIdentity(
            f"{name}-control-plane",
            resource_group_name=rg,
            location=args.location,
            tags=args.tags,
            opts=child,
        )
        kubelet = managedidentity.UserAssignedIdentity(
            f"{name}-kubelet",
            resource_group_name=rg,
            location=args.location,
            tags=args.tags,
            opts=child,
        )
        self.kubelet_principal_id = kubelet.principal_id

        def grant(
            suffix: str, role: str, principal: pulumi.Input[str], scope: pulumi.Input[str]
        ) -> pulumi.Resource:
            return roles.assign_role(
                f"{name}-{suffix}",
                parent=self,
                subscription_id=args.subscription_id,
                role=role,
                principal_id=principal,
                scope=scope,
            )

        prerequisites = [
            # The control plane assigns the kubelet identity to the node VM scale sets.
            grant(
                "cp-kubelet-operator",
                roles.MANAGED_IDENTITY_OPERATOR,
                control_plane.principal_id,
                kubelet.id,
            ),
            # Bring-your-own subnets: the control plane joins nodes and the API server to them.
            grant(
                "cp-nodes-subnet",
                roles.NETWORK_CONTRIBUTOR,
                control_plane.principal_id,
                args.nodes_subnet_id,
            ),
            grant(
                "cp-apiserver-subnet",
                roles.NETWORK_CONTRIBUTOR,
                control_plane.principal_id,
                args.api_server_subnet_id,
            ),
            # KMS: wrap/unwrap with this one key only ...
            grant(
                "cp-kms-key",
                roles.KEY_VAULT_CRYPTO_USER,
                control_plane.principal_id,
                args.kms_key_id,
            ),
            # ... and, for a private vault, manage the vault's private link (management plane only).
            grant(
                "cp-kms-vault",
                roles.KEY_VAULT_CONTRIBUTOR,
                control_plane.principal_id,
                args.key_vault_id,
            ),
            # Nodes pull images from this registry only.
            grant("kubelet-acr-pull", roles.ACR_PULL, kubelet.principal_id, args.registry_id),
        ]

        workspace = operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=rg,
            location=args.location,
            sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
            retention_in_days=cfg.log_retention_days,
            tags=args.tags,
            opts=child,
        )
        self.workspace_id = workspace.id

        # The `stable` and `rapid` channels move the minor version themselves; then the configured
        # version is the initial one and later drift is AKS's doing, not a change to revert.
        moves_minor = cfg.upgrade_channel in {"stable", "rapid"}
        zones: list[str] | None = [str(zone) for zone in cfg.availability_zones] or None
        system = cfg.node_pools.system
        cluster = containerservice.ManagedCluster(
            f"{name}-aks",
            resource_group_name=rg,
            location=args.location,
            dns_prefix=name,
            kubernetes_version=cfg.kubernetes_version,
            sku=containerservice.ManagedClusterSKUArgs(name="Base", tier=cfg.sku_tier),
            identity=containerservice.ManagedClusterIdentityArgs(
                type=containerservice.ResourceIdentityType.USER_ASSIGNED,
                user_assigned_identities=[control_plane.id],
            ),
            identity_profile={
                "kubeletidentity": containerservice.UserAssignedIdentityArgs(
                    resource_id=kubelet.id,
                    client_id=kubelet.client_id,
                    object_id=kubelet.principal_id,
                )
            },
            enable_rbac=True,
            disable_local_accounts=True,
            aad_profile=containerservice.ManagedClusterAADProfileArgs(
                managed=True,
                enable_azure_rbac=True,
                tenant_id=args.tenant_id,
                admin_group_object_ids=list(cfg.admin_group_object_ids),
            ),
            api_server_access_profile=containerservice.ManagedClusterAPIServerAccessProfileArgs(
                enable_private_cluster=True,
                enable_private_cluster_public_fqdn=False,
                private_dns_zone="system",
                enable_vnet_integration=True,
                subnet_id=args.api_server_subnet_id,
                disable_run_command=False,  # `az aks command invoke` is the operator's way in
            ),
            network_profile=containerservice.ContainerServiceNetworkProfileArgs(
                network_plugin="azure",
                network_plugin_mode="overlay",
                network_policy=cfg.network_policy,
                network_dataplane="cilium" if cfg.network_policy == "cilium" else "azure",
                pod_cidr=args.network.pod_cidr,
                service_cidr=args.network.service_cidr,
                dns_service_ip=args.network.dns_service_ip,
                load_balancer_sku="standard",
                outbound_type="loadBalancer",
            ),
            oidc_issuer_profile=containerservice.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
            security_profile=containerservice.ManagedClusterSecurityProfileArgs(
                workload_identity=containerservice.ManagedClusterSecurityProfileWorkloadIdentityArgs(
                    enabled=True
                ),
                azure_key_vault_kms=containerservice.AzureKeyVaultKmsArgs(
                    enabled=True,
                    key_id=args.kms_key_version_uri,
                    key_vault_network_access="Private",
                    key_vault_resource_id=args.key_vault_id,
                ),
            ),
            auto_upgrade_profile=containerservice.ManagedClusterAutoUpgradeProfileArgs(
                upgrade_channel=cfg.upgrade_channel,
                node_os_upgrade_channel=cfg.node_os_upgrade_channel,
            ),
            addon_profiles={
                "omsagent": containerservice.ManagedClusterAddonProfileArgs(
                    enabled=True,
                    config={"logAnalyticsWorkspaceResourceID": workspace.id, "useAADAuth": "true"},
                ),
                "azureKeyvaultSecretsProvider": containerservice.ManagedClusterAddonProfileArgs(
                    enabled=True, config={"enableSecretRotation": "true"}
                ),
            },
            ingress_profile=containerservice.ManagedClusterIngressProfileArgs(
                web_app_routing=containerservice.ManagedClusterIngressProfileWebAppRoutingArgs(
                    enabled=True
                )
            ),
            auto_scaler_profile=containerservice.ManagedClusterPropertiesAutoScalerProfileArgs(
                expander="least-waste", balance_similar_node_groups="true"
            ),
            agent_pool_profiles=[
                containerservice.ManagedClusterAgentPoolProfileArgs(
                    name="system",
                    mode="System",
                    type="VirtualMachineScaleSets",
                    os_type="Linux",
                    os_sku="AzureLinux",
                    vm_size=system.vm_size,
                    enable_auto_scaling=True,
                    min_count=system.min_size,
                    max_count=system.max_size,
                    count=system.desired_size,
                    os_disk_size_gb=system.disk_size_gib,
                    os_disk_type="Managed",
                    vnet_subnet_id=args.nodes_subnet_id,
                    availability_zones=zones,
                    enable_node_public_ip=False,
                    node_labels=node_labels("system", spot=False),
                    # Only add-ons and platform services run here; workloads go to user pools.
                    node_taints=[str(t) for t in POOL_TAINTS["system"]],
                    tags=args.tags,
                )
            ],
            tags=args.tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=prerequisites,
                ignore_changes=["agentPoolProfiles"]
                + (["kubernetesVersion"] if moves_minor else []),
            ),
        )
        self.cluster_name = cluster.name
        self.cluster_id = cluster.id
        self.oidc_issuer_url = cluster.oidc_issuer_profile.apply(_issuer_url)
        self.private_fqdn = cluster.private_fqdn.apply(lambda fqdn: f"https://{fqdn}:443")

        # Local accounts are off: the configured Entra ID groups are the cluster's admins.
        for index, group in enumerate(cfg.admin_group_object_ids):
            roles.assign_role(
                f"{name}-admins-{index}",
                parent=self,
                subscription_id=args.subscription_id,
                role=roles.AKS_RBAC_CLUSTER_ADMIN,
                principal_id=group,
                principal_type="Group",
                scope=cluster.id,
            )

        self._container_insights(name, args, cluster, workspace)
        self._maintenance_window(name, args, cluster, cfg.maintenance)

        monitor.DiagnosticSetting(
            f"{name}-diagnostics",
            resource_uri=cluster.id,
            workspace_id=workspace.id,
            log_analytics_destination_type="Dedicated",
            logs=[
                monitor.DiagnosticsLogSettingsArgs(category=category, enabled=True)
                for category in CONTROL_PLANE_LOGS
            ],
            metrics=[monitor.DiagnosticsMetricSettingsArgs(category="AllMetrics", enabled=True)],
            opts=child,
        )

        pools = cfg.node_pools
        common = _Placement(
            resource_group_name=rg,
            cluster_name=cluster.name,
            subnet_id=args.nodes_subnet_id,
            zones=zones,
            kubernetes_version=cfg.kubernetes_version,
            follow_auto_upgrades=moves_minor,
            tags=args.tags,
        )
        self.pools = [
            self._pool(name, "api", pools.api, common),
            self._pool(name, "training", pools.training, common, spot=pools.training),
        ]
        if pools.gpu is not None:
            self.pools.append(self._pool(name, "gpu", pools.gpu, common))

        # Entra ID clusters hand out exec-format kubeconfigs (kubelogin); no static credential.
        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=rg, resource_name=cluster.name, format="exec"
        )
        self.kubeconfig = pulumi.Output.secret(
            credentials.kubeconfigs.apply(
                lambda configs: base64.b64decode(configs[0].value).decode("utf-8")
            )
        )

        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "clusterId": self.cluster_id,
                "oidcIssuerUrl": self.oidc_issuer_url,
            }
        )

    def _pool(
        self,
        name: str,
        pool: Pool,
        cfg: AzurePool,
        placement: _Placement,
        *,
        spot: SpotPool | None = None,
    ) -> containerservice.AgentPool:
        taints = [str(t) for t in POOL_TAINTS[pool]]
        if spot is not None:
            taints.append(SPOT_TAINT)  # AKS adds it to Spot pools anyway; declared, not fought
        return containerservice.AgentPool(
            f"{name}-{pool}",
            resource_group_name=placement.resource_group_name,
            resource_name_=placement.cluster_name,
            agent_pool_name=pool,
            mode="User",
            type="VirtualMachineScaleSets",
            os_type="Linux",
            os_sku="AzureLinux",
            orchestrator_version=placement.kubernetes_version,
            vnet_subnet_id=placement.subnet_id,
            availability_zones=placement.zones,
            vm_size=cfg.vm_size,
            os_disk_size_gb=cfg.disk_size_gib,
            enable_auto_scaling=True,
            min_count=cfg.min_size,
            max_count=cfg.max_size,
            count=cfg.desired_size,
            enable_node_public_ip=False,
            node_labels=node_labels(pool, spot=spot is not None),
            node_taints=taints or None,
            scale_set_priority="Spot" if spot is not None else "Regular",
            scale_set_eviction_policy="Delete" if spot is not None else None,
            spot_max_price=spot.spot_max_price if spot is not None else None,
            tags=placement.tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                # The autoscaler owns the node count after creation.
                ignore_changes=["count"]
                + (["orchestratorVersion"] if placement.follow_auto_upgrades else []),
            ),
        )

    def _container_insights(
        self,
        name: str,
        args: ClusterArgs,
        cluster: containerservice.ManagedCluster,
        workspace: operationalinsights.Workspace,
    ) -> None:
        """Container Insights with Entra ID auth (``useAADAuth``) collects nothing until a data
        collection rule says what goes where and is associated with the cluster."""
        rule = monitor.DataCollectionRule(
            f"{name}-container-insights",
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind="Linux",
            description="Container Insights: pod, node and container inventory, metrics and logs",
            data_sources=monitor.DataCollectionRuleDataSourcesArgs(
                extensions=[
                    monitor.ExtensionDataSourceArgs(
                        name="ContainerInsightsExtension",
                        extension_name="ContainerInsights",
                        streams=list(CONTAINER_INSIGHTS_STREAMS),
                        extension_settings={
                            "dataCollectionSettings": {
                                "interval": "1m",
                                "namespaceFilteringMode": "Off",
                                "enableContainerLogV2": True,
                            }
                        },
                    )
                ]
            ),
            destinations=monitor.DataCollectionRuleDestinationsArgs(
                log_analytics=[
                    monitor.LogAnalyticsDestinationArgs(
                        name="workspace", workspace_resource_id=workspace.id
                    )
                ]
            ),
            data_flows=[
                monitor.DataFlowArgs(
                    streams=list(CONTAINER_INSIGHTS_STREAMS), destinations=["workspace"]
                )
            ],
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        monitor.DataCollectionRuleAssociation(
            f"{name}-container-insights-association",
            resource_uri=cluster.id,
            association_name="ContainerInsightsExtension",
            data_collection_rule_id=rule.id,
            description="Container Insights for the cluster",
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _maintenance_window(
        self,
        name: str,
        args: ClusterArgs,
        cluster: containerservice.ManagedCluster,
        window: MaintenanceWindow,
    ) -> None:
        for config_name in MAINTENANCE_CONFIGURATIONS:
            containerservice.MaintenanceConfiguration(
                f"{name}-{config_name}",
                resource_group_name=args.resource_group_name,
                resource_name_=cluster.name,
                config_name=config_name,
                maintenance_window=containerservice.MaintenanceWindowArgs(
                    schedule=containerservice.ScheduleArgs(
                        weekly=containerservice.WeeklyScheduleArgs(
                            day_of_week=window.day_of_week, interval_weeks=1
                        )
                    ),
                    start_time=window.start_time,
                    duration_hours=window.duration_hours,
                    utc_offset=window.utc_offset,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )


def _issuer_url(
    profile: containerservice.outputs.ManagedClusterOIDCIssuerProfileResponse | None,
) -> str:
    if profile is None or not profile.issuer_url:
        raise ValueError("the cluster reports no OIDC issuer URL; workload identity needs one")
    return profile.issuer_url


@dataclass(frozen=True)
class _Placement:
    """Where every user pool goes: the cluster, its subnet and zones, its version and tags."""

    resource_group_name: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    zones: list[str] | None
    kubernetes_version: str
    follow_auto_upgrades: bool
    tags: Mapping[str, str]
