"""The EKS cluster: private API (reachable from the deployer path), KMS-encrypted secrets, all
control-plane logs, access entries, OIDC workload identity, managed node groups labelled and
tainted as :mod:`infra.scheduling` says, and the core add-ons (VPC CNI with network policy)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from infra.aws.config import ClusterConfig, NodeGroupConfig
from infra.aws.irsa import OidcIssuer, service_account_role
from infra.aws.kubeconfig import kubeconfig_output
from infra.aws.node_group import (
    AUTOSCALER_ENABLED_TAG,
    AmiType,
    NodeGroup,
    NodeGroupArgs,
    autoscaler_owner_tag,
)
from infra.aws.policy import service_trust
from infra.scheduling import POOL_TAINTS, Pool, node_labels

#: Every EKS control-plane log type.
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

#: The StorageClass the EBS CSI add-on creates (``defaultStorageClass.enabled``): gp3, default.
STORAGE_CLASS = "ebs-csi-default-sc"

_MANAGED_POLICY = "arn:aws:iam::aws:policy/"
_CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def _oidc_issuer(identities: Sequence[aws.eks.outputs.ClusterIdentity]) -> str:
    oidcs = identities[0].oidcs or []
    if not oidcs or not oidcs[0].issuer:
        raise ValueError("EKS returned no OIDC issuer for the cluster")
    return oidcs[0].issuer


@dataclass(frozen=True)
class ClusterArgs:
    cluster_name: str
    config: ClusterConfig
    region: str
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    #: Runners in the VPC with this security group reach the private API endpoint on 443.
    deployer_security_group_id: pulumi.Input[str]
    #: The VPC's Kubernetes Service range.
    service_cidr: str
    tags: Mapping[str, str]


class Cluster(pulumi.ComponentResource):
    """EKS with a private endpoint (public access only for an allow-list when configured)."""

    name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    api_security_group_id: pulumi.Output[str]
    version: pulumi.Output[str]
    oidc: OidcIssuer
    kubeconfig: pulumi.Output[str]
    node_groups: dict[str, NodeGroup]

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:aws:Cluster", name, None, opts)
        config = args.config
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        secrets_key = aws.kms.Key(
            f"{name}-secrets-key",
            description=f"EKS secrets envelope encryption for {args.cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-secrets-key-alias",
            name=f"alias/{args.cluster_name}-eks-secrets",
            target_key_id=secrets_key.key_id,
            opts=child,
        )

        cluster_role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=service_trust("eks.amazonaws.com"),
            description=f"EKS control plane of {args.cluster_name}",
            tags=tags,
            opts=child,
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-role-cluster-policy",
            role=cluster_role.name,
            policy_arn=_MANAGED_POLICY + "AmazonEKSClusterPolicy",
            opts=child,
        )
        # EKS writes to this exact name; creating it first sets retention and tags.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=config.log_retention_days,
            tags=tags,
            opts=child,
        )

        # The control plane's extra security group: the deployer path to the private endpoint.
        api_access = aws.ec2.SecurityGroup(
            f"{name}-api-access",
            vpc_id=args.vpc_id,
            description=f"Deployer access to the private EKS API of {args.cluster_name}",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    security_groups=[args.deployer_security_group_id],
                    description="deployers and CI runners inside the VPC",
                ),
                *(
                    [
                        aws.ec2.SecurityGroupIngressArgs(
                            protocol="tcp",
                            from_port=443,
                            to_port=443,
                            cidr_blocks=list(config.deployer_cidrs),
                            description="deployer networks (VPN, Direct Connect, peering)",
                        )
                    ]
                    if config.deployer_cidrs
                    else []
                ),
            ],
            tags={**tags, "Name": f"{name}-api-access"},
            opts=child,
        )
        self.api_security_group_id = api_access.id

        public = bool(config.public_access_cidrs)
        cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=config.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=list(args.subnet_ids),
                security_group_ids=[api_access.id],
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=list(config.public_access_cidrs) if public else None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"],
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=secrets_key.arn),
            ),
            kubernetes_network_config=aws.eks.ClusterKubernetesNetworkConfigArgs(
                service_ipv4_cidr=args.service_cidr, ip_family="ipv4"
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=config.bootstrap_creator_admin,
            ),
            # The core add-ons below are EKS-managed add-ons instead of self-managed manifests.
            bootstrap_self_managed_addons=False,
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            deletion_protection=config.deletion_protection,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster_policy, log_group]),
        )

        issuer_url = cluster.identities.apply(_oidc_issuer)
        oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer_url,
            client_id_lists=["sts.amazonaws.com"],
            tags=tags,
            opts=child,
        )
        self.oidc = OidcIssuer(provider_arn=oidc_provider.arn, issuer_url=issuer_url)

        for index, principal in enumerate(config.admin_role_arns):
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{index}",
                cluster_name=cluster.name,
                principal_arn=principal,
                type="STANDARD",
                tags=tags,
                opts=child,
            )
            aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{index}-policy",
                cluster_name=cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn=_CLUSTER_ADMIN_POLICY,
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=child,
            )

        addons = config.addons
        cni_role = service_account_role(
            f"{name}-vpc-cni-role",
            issuer=self.oidc,
            namespace="kube-system",
            service_account="aws-node",
            tags=tags,
            parent=self,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-vpc-cni-role-policy",
            role=cni_role.name,
            policy_arn=_MANAGED_POLICY + "AmazonEKS_CNI_Policy",
            opts=child,
        )
        # The VPC CNI enforces Kubernetes NetworkPolicies (the in-cluster layer relies on them).
        vpc_cni = self._addon(
            name,
            cluster,
            "vpc-cni",
            addons.vpc_cni,
            tags,
            service_account_role_arn=cni_role.arn,
            configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
        )
        kube_proxy = self._addon(name, cluster, "kube-proxy", addons.kube_proxy, tags)

        node_role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=service_trust("ec2.amazonaws.com"),
            description=f"EKS nodes of {args.cluster_name}",
            tags=tags,
            opts=child,
        )
        node_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-role-{policy.lower()}",
                role=node_role.name,
                policy_arn=_MANAGED_POLICY + policy,
                opts=child,
            )
            for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly")
        ]

        discovery = {
            AUTOSCALER_ENABLED_TAG: "true",
            autoscaler_owner_tag(args.cluster_name): "owned",
        }

        def group(
            pool: Pool,
            group_config: NodeGroupConfig,
            *,
            capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND",
            ami_type: AmiType = "AL2023_x86_64_STANDARD",
        ) -> NodeGroup:
            return NodeGroup(
                f"{name}-{pool}",
                NodeGroupArgs(
                    cluster_name=cluster.name,
                    node_role_arn=node_role.arn,
                    subnet_ids=args.subnet_ids,
                    config=group_config,
                    tags={**tags, **discovery, "stratus-node-group": pool},
                    capacity_type=capacity_type,
                    ami_type=ami_type,
                    labels=node_labels(pool, spot=capacity_type == "SPOT"),
                    taints=POOL_TAINTS[pool],
                    depends_on=[*node_policies, vpc_cni, kube_proxy],
                ),
                opts=child,
            )

        pools = config.node_groups
        self.node_groups = {
            "system": group("system", pools.system),
            "api": group("api", pools.api),
            "training": group("training", pools.training, capacity_type="SPOT"),
        }
        if pools.gpu is not None:
            self.node_groups["gpu"] = group("gpu", pools.gpu, ami_type="AL2023_x86_64_NVIDIA")
        nodes = [g.node_group for g in self.node_groups.values()]

        ebs_role = service_account_role(
            f"{name}-ebs-csi-role",
            issuer=self.oidc,
            namespace="kube-system",
            service_account="ebs-csi-controller-sa",
            tags=tags,
            parent=self,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-ebs-csi-role-policy",
            role=ebs_role.name,
            policy_arn=_MANAGED_POLICY + "service-role/AmazonEBSCSIDriverPolicy",
            opts=child,
        )
        # CoreDNS and the EBS CSI controller are Deployments: they need nodes to become healthy.
        self._addon(name, cluster, "coredns", addons.coredns, tags, depends_on=nodes)
        self._addon(
            name,
            cluster,
            "aws-ebs-csi-driver",
            addons.ebs_csi_driver,
            tags,
            service_account_role_arn=ebs_role.arn,
            configuration_values=json.dumps({"defaultStorageClass": {"enabled": True}}),
            depends_on=nodes,
        )

        self.name = cluster.name
        self.version = cluster.version
        self.endpoint = cluster.endpoint
        self.security_group_id = cluster.vpc_config.apply(
            lambda vpc: vpc.cluster_security_group_id or ""
        )
        self.kubeconfig = pulumi.Output.secret(
            kubeconfig_output(
                cluster_name=cluster.name,
                endpoint=cluster.endpoint,
                certificate_authority=cluster.certificate_authority.apply(lambda ca: ca.data or ""),
                region=args.region,
            )
        )
        self.register_outputs(
            {
                "clusterName": self.name,
                "endpoint": self.endpoint,
                "oidcProviderArn": oidc_provider.arn,
                "securityGroupId": self.security_group_id,
            }
        )

    def _addon(
        self,
        name: str,
        cluster: aws.eks.Cluster,
        addon: str,
        version: str | None,
        tags: Mapping[str, str],
        *,
        service_account_role_arn: pulumi.Input[str] | None = None,
        configuration_values: str | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> aws.eks.Addon:
        return aws.eks.Addon(
            f"{name}-{addon}",
            cluster_name=cluster.name,
            addon_name=addon,
            addon_version=version,
            service_account_role_arn=service_account_role_arn,
            configuration_values=configuration_values,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="PRESERVE",
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )
