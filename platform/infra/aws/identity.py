"""IAM roles for the workloads' and add-ons' Kubernetes service accounts (IRSA), least privilege:

* ``ml-api`` reads models; ``training`` reads raw data and writes processed data, models and
  MLflow artifacts; ``mlflow`` reads and writes its artifacts (S3, through the storage key);
* ``external-secrets`` reads the MLflow database secret and the API keys secret;
* ``cluster-autoscaler`` scales this cluster's node groups only (tag-conditioned);
* ``aws-load-balancer-controller`` manages the load balancers it tags for this cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.irsa import ROLE_ARN_ANNOTATION, OidcIssuer, service_account_role
from infra.aws.node_group import autoscaler_owner_tag
from infra.aws.policy import Statement, document
from infra.foundation import AWS_ADDON_WORKLOADS, WORKLOADS

READ = ["s3:GetObject"]
READ_WRITE = ["s3:GetObject", "s3:PutObject"]
READ_WRITE_DELETE = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
#: (store, object actions) each workload is granted; listing is granted on the same buckets.
GRANTS: dict[str, list[tuple[str, list[str]]]] = {
    "ml-api": [("models", READ)],
    "training": [
        ("data_raw", READ),
        # training/land.py writes the validated data set here before training.
        ("data_processed", READ_WRITE),
        ("models", READ_WRITE),
        ("mlflow_artifacts", READ_WRITE),
    ],
    "mlflow": [("mlflow_artifacts", READ_WRITE_DELETE)],
}


def storage_statements(
    workload: str, bucket_arns: Mapping[str, pulumi.Input[str]], key_arn: pulumi.Input[str]
) -> list[Statement]:
    grants = GRANTS[workload]
    statements = [
        Statement(
            sid="ListBuckets",
            actions=["s3:ListBucket"],
            resources=[bucket_arns[store] for store, _ in grants],
        )
    ]
    by_actions: dict[tuple[str, ...], list[pulumi.Input[str]]] = {}
    for store, actions in grants:
        by_actions.setdefault(tuple(actions), []).append(
            pulumi.Output.concat(bucket_arns[store], "/*")
        )
    for index, (object_actions, resources) in enumerate(by_actions.items()):
        statements.append(
            Statement(sid=f"Objects{index}", actions=list(object_actions), resources=resources)
        )
    writes = any(len(actions) > 1 for _, actions in grants)
    statements.append(
        Statement(
            sid="UseStorageKey",
            actions=["kms:Decrypt", "kms:GenerateDataKey"] if writes else ["kms:Decrypt"],
            resources=[key_arn],
        )
    )
    return statements


def external_secrets_statements(
    secret_arns: list[pulumi.Input[str]], key_arns: list[pulumi.Input[str]]
) -> list[Statement]:
    return [
        Statement(
            sid="ReadPlatformSecrets",
            actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            resources=secret_arns,
        ),
        Statement(sid="DecryptPlatformSecrets", actions=["kms:Decrypt"], resources=key_arns),
    ]


def cluster_autoscaler_statements(cluster_name: str) -> list[Statement]:
    """The Cluster Autoscaler's documented policy, with the write actions limited to Auto Scaling
    groups tagged as owned by this cluster."""
    return [
        Statement(
            sid="Discover",
            actions=[
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeLaunchConfigurations",
                "autoscaling:DescribeScalingActivities",
                "autoscaling:DescribeTags",
                "ec2:DescribeImages",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:GetInstanceTypesFromInstanceRequirements",
                "eks:DescribeNodegroup",
            ],
            resources=["*"],
        ),
        Statement(
            sid="ScaleOwnGroups",
            actions=[
                "autoscaling:SetDesiredCapacity",
                "autoscaling:TerminateInstanceInAutoScalingGroup",
            ],
            resources=["*"],
            condition={
                "StringEquals": {f"aws:ResourceTag/{autoscaler_owner_tag(cluster_name)}": "owned"}
            },
        ),
    ]


_CLUSTER_TAG_INGRESS = "ingress.k8s.aws/cluster"
_CLUSTER_TAG_SERVICE = "service.k8s.aws/cluster"


def load_balancer_controller_statements() -> list[Statement]:
    """What the AWS Load Balancer Controller does: read the network and load balancers; create
    security groups and load balancers only with its cluster tag in the request; change or
    delete only resources carrying that tag."""
    describe = Statement(
        sid="Describe",
        actions=[
            "ec2:DescribeAccountAttributes",
            "ec2:DescribeAddresses",
            "ec2:DescribeAvailabilityZones",
            "ec2:DescribeInternetGateways",
            "ec2:DescribeVpcs",
            "ec2:DescribeVpcPeeringConnections",
            "ec2:DescribeSubnets",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeInstances",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeTags",
            "ec2:GetCoipPoolUsage",
            "ec2:DescribeCoipPools",
            "ec2:GetSecurityGroupsForVpc",
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DescribeLoadBalancerAttributes",
            "elasticloadbalancing:DescribeListeners",
            "elasticloadbalancing:DescribeListenerCertificates",
            "elasticloadbalancing:DescribeListenerAttributes",
            "elasticloadbalancing:DescribeSSLPolicies",
            "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeTargetGroupAttributes",
            "elasticloadbalancing:DescribeTargetHealth",
            "elasticloadbalancing:DescribeTags",
            "elasticloadbalancing:DescribeTrustStores",
            "acm:ListCertificates",
            "acm:DescribeCertificate",
            "wafv2:GetWebACL",
            "wafv2:GetWebACLForResource",
            "shield:GetSubscriptionState",
            "shield:DescribeProtection",
        ],
        resources=["*"],
    )
    service_linked_role = Statement(
        sid="ElbServiceLinkedRole",
        actions=["iam:CreateServiceLinkedRole"],
        resources=["*"],
        condition={"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
    )
    tagged_request = {
        "ForAnyValue:StringEquals": {"aws:TagKeys": [_CLUSTER_TAG_INGRESS, _CLUSTER_TAG_SERVICE]}
    }
    create = Statement(
        sid="CreateTagged",
        actions=[
            "ec2:CreateSecurityGroup",
            "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing:CreateTargetGroup",
        ],
        resources=["*"],
        condition=tagged_request,
    )
    tag_security_group_on_create = Statement(
        sid="TagSecurityGroupOnCreate",
        actions=["ec2:CreateTags"],
        resources=["*"],
        condition={"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}, **tagged_request},
    )
    tag_load_balancer_on_create = Statement(
        sid="TagLoadBalancerOnCreate",
        actions=["elasticloadbalancing:AddTags"],
        resources=["*"],
        condition={
            "StringEquals": {
                "elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]
            },
            **tagged_request,
        },
    )
    statements = [
        describe,
        service_linked_role,
        create,
        tag_security_group_on_create,
        tag_load_balancer_on_create,
    ]
    for index, tag in enumerate((_CLUSTER_TAG_INGRESS, _CLUSTER_TAG_SERVICE)):
        statements.append(
            Statement(
                sid=f"ManageOwn{index}",
                actions=[
                    "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:RevokeSecurityGroupIngress",
                    "ec2:DeleteSecurityGroup",
                    "ec2:CreateTags",
                    "ec2:DeleteTags",
                    "elasticloadbalancing:AddTags",
                    "elasticloadbalancing:RemoveTags",
                    "elasticloadbalancing:ModifyLoadBalancerAttributes",
                    "elasticloadbalancing:SetIpAddressType",
                    "elasticloadbalancing:SetSecurityGroups",
                    "elasticloadbalancing:SetSubnets",
                    "elasticloadbalancing:DeleteLoadBalancer",
                    "elasticloadbalancing:ModifyTargetGroup",
                    "elasticloadbalancing:ModifyTargetGroupAttributes",
                    "elasticloadbalancing:RegisterTargets",
                    "elasticloadbalancing:DeregisterTargets",
                    "elasticloadbalancing:DeleteTargetGroup",
                    "elasticloadbalancing:CreateListener",
                    "elasticloadbalancing:DeleteListener",
                    "elasticloadbalancing:ModifyListener",
                    "elasticloadbalancing:ModifyListenerAttributes",
                    "elasticloadbalancing:CreateRule",
                    "elasticloadbalancing:DeleteRule",
                    "elasticloadbalancing:ModifyRule",
                    "elasticloadbalancing:AddListenerCertificates",
                    "elasticloadbalancing:RemoveListenerCertificates",
                    "elasticloadbalancing:SetWebAcl",
                    "wafv2:AssociateWebACL",
                    "wafv2:DisassociateWebACL",
                ],
                resources=["*"],
                condition={"Null": {f"aws:ResourceTag/{tag}": "false"}},
            )
        )
    return statements


@dataclass(frozen=True)
class WorkloadIdentityArgs:
    oidc: OidcIssuer
    cluster_name: str
    bucket_arns: Mapping[str, pulumi.Input[str]]
    storage_key_arn: pulumi.Input[str]
    #: Secrets External Secrets may read, and the keys that encrypt them.
    secret_arns: list[pulumi.Input[str]]
    secret_key_arns: list[pulumi.Input[str]]
    tags: Mapping[str, str]


class WorkloadIdentities(pulumi.ComponentResource):
    """One role per workload of :data:`infra.foundation.WORKLOADS` and add-on of
    :data:`infra.foundation.AWS_ADDON_WORKLOADS`, trusted by exactly that namespace/service
    account."""

    role_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:aws:WorkloadIdentities", name, None, opts)
        policies: dict[str, list[Statement]] = {
            workload: storage_statements(workload, args.bucket_arns, args.storage_key_arn)
            for workload in GRANTS
        }
        policies["external-secrets"] = external_secrets_statements(
            args.secret_arns, args.secret_key_arns
        )
        policies["cluster-autoscaler"] = cluster_autoscaler_statements(args.cluster_name)
        policies["aws-load-balancer-controller"] = load_balancer_controller_statements()

        self.role_arns = {}
        for workload, (namespace, service_account) in {
            **WORKLOADS,
            **AWS_ADDON_WORKLOADS,
        }.items():
            role = service_account_role(
                f"{name}-{workload}",
                issuer=args.oidc,
                namespace=namespace,
                service_account=service_account,
                tags=args.tags,
                parent=self,
            )
            aws.iam.RolePolicy(
                f"{name}-{workload}-access",
                role=role.id,
                policy=document(*policies[workload]),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.role_arns[workload] = role.arn
        self.register_outputs({"roleArns": self.role_arns})

    def annotations(self, workload: str) -> pulumi.Output[dict[str, str]]:
        return self.role_arns[workload].apply(lambda arn: {ROLE_ARN_ANNOTATION: arn})
