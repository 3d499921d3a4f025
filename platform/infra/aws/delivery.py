"""GitHub Actions' identities on AWS (see :mod:`infra.delivery`): the account's GitHub OIDC
provider (or an existing one) and three IAM roles, each trusted by one kind of workflow run.

* ``deploy``: ``AdministratorAccess`` (the stacks create IAM roles, VPCs, EKS and RDS; a narrower
  policy would have to list most of AWS) and an EKS access entry as cluster admin (the ``-apps``
  stack and the rollout). Only jobs of the protected GitHub environment get it.
* ``preview``: ``ReadOnlyAccess`` (``pulumi preview`` of the foundation and global stacks).
* ``images``: push to this foundation's two ECR repositories, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.policy import Statement, document
from infra.delivery import CI_ROLES, GITHUB_ISSUER, CiRole

_MANAGED = {
    "deploy": "arn:aws:iam::aws:policy/AdministratorAccess",
    "preview": "arn:aws:iam::aws:policy/ReadOnlyAccess",
}
_CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
ECR_PUSH = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
]


def github_trust(provider_arn: pulumi.Input[str], subject: str) -> pulumi.Output[str]:
    """Only GitHub tokens for ``subject`` (repository + environment / PR / branch) may assume."""
    host = GITHUB_ISSUER.removeprefix("https://")
    return pulumi.Output.from_input(provider_arn).apply(
        lambda arn: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": arn},
                        "Action": ["sts:AssumeRoleWithWebIdentity"],
                        "Condition": {
                            "StringEquals": {
                                f"{host}:aud": "sts.amazonaws.com",
                                f"{host}:sub": subject,
                            }
                        },
                    }
                ],
            }
        )
    )


@dataclass(frozen=True)
class DeliveryIdentitiesArgs:
    subjects: Mapping[CiRole, str]
    cluster_name: pulumi.Input[str]
    repository_arns: list[pulumi.Input[str]]
    registry_key_arn: pulumi.Input[str]
    #: The account's GitHub OIDC provider when it exists already (one per account).
    existing_provider_arn: str | None
    tags: Mapping[str, str]


class DeliveryIdentities(pulumi.ComponentResource):
    role_arns: dict[CiRole, pulumi.Output[str]]

    def __init__(
        self, name: str, args: DeliveryIdentitiesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:aws:DeliveryIdentities", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        provider_arn: pulumi.Input[str]
        if args.existing_provider_arn is not None:
            provider_arn = args.existing_provider_arn
        else:
            provider_arn = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=GITHUB_ISSUER,
                client_id_lists=["sts.amazonaws.com"],
                tags=tags,
                opts=child,
            ).arn
        self.role_arns = {}
        for role_name in CI_ROLES:
            role = aws.iam.Role(
                f"{name}-{role_name}",
                assume_role_policy=github_trust(provider_arn, args.subjects[role_name]),
                description=f"GitHub Actions ({role_name}): {args.subjects[role_name]}",
                max_session_duration=3600,
                tags=tags,
                opts=child,
            )
            self.role_arns[role_name] = role.arn
            if role_name in _MANAGED:
                aws.iam.RolePolicyAttachment(
                    f"{name}-{role_name}-policy",
                    role=role.name,
                    policy_arn=_MANAGED[role_name],
                    opts=child,
                )
            if role_name == "deploy":
                entry = aws.eks.AccessEntry(
                    f"{name}-deploy-access",
                    cluster_name=args.cluster_name,
                    principal_arn=role.arn,
                    type="STANDARD",
                    tags=tags,
                    opts=child,
                )
                aws.eks.AccessPolicyAssociation(
                    f"{name}-deploy-access-policy",
                    cluster_name=args.cluster_name,
                    principal_arn=entry.principal_arn,
                    policy_arn=_CLUSTER_ADMIN_POLICY,
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    opts=child,
                )
            if role_name == "images":
                aws.iam.RolePolicy(
                    f"{name}-images-push",
                    role=role.id,
                    policy=document(
                        Statement(
                            sid="Login",
                            actions=["ecr:GetAuthorizationToken"],
                            resources=["*"],
                        ),
                        Statement(
                            sid="PushImages",
                            actions=ECR_PUSH,
                            resources=list(args.repository_arns),
                        ),
                        Statement(
                            sid="EncryptLayers",
                            actions=["kms:GenerateDataKey", "kms:Decrypt"],
                            resources=[args.registry_key_arn],
                        ),
                    ),
                    opts=child,
                )
        self.register_outputs({"roleArns": self.role_arns})
