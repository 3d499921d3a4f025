"""GitHub Actions' identities on AWS (see :mod:`infra.delivery`): the account's GitHub OIDC
provider (or an existing one) and three IAM roles, each trusted by one kind of workflow run.

* ``deploy``: the services the stacks manage (:data:`SERVICES`, every one of them and nothing
  else), IAM only on the platform's own roles, policies and instance profiles
  (``<project>-<env>-*``), never on the CI identities themselves and never with AWS's
  administrator policies; and an EKS access entry as cluster admin (the ``-apps`` stack and the
  rollout). Only jobs of the protected GitHub environment get it. Not ``AdministratorAccess``:
  the policy pack refuses it (``aws-iam-no-full-admin``), and a leaked deploy token should not
  own the account.
* ``preview``: ``ReadOnlyAccess`` (``pulumi preview`` of the foundation and global stacks).
* ``images``: push to this foundation's two ECR repositories, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.irsa import web_identity_trust
from infra.aws.policy import Statement, document
from infra.delivery import CI_ROLES, GITHUB_ISSUER, CiRole

_MANAGED = {"preview": "arn:aws:iam::aws:policy/ReadOnlyAccess"}

#: Pulumi module of every AWS resource a shipped stack creates -> the IAM service prefixes its
#: create/update/delete calls need. A test keeps it complete: a stack that starts using a new
#: module fails until the deploy identity may manage it.
SERVICES: dict[str, tuple[str, ...]] = {
    "autoscaling": ("autoscaling",),
    "budgets": ("budgets",),
    "cloudwatch": ("cloudwatch", "logs"),
    "ec2": ("ec2",),
    "ecr": ("ecr",),
    "eks": ("eks",),
    "kms": ("kms",),
    "lb": ("elasticloadbalancing",),
    "rds": ("rds",),
    "route53": ("route53",),
    "s3": ("s3",),
    "secretsmanager": ("secretsmanager",),
    "sns": ("sns",),
    "ssm": ("ssm",),
}
#: What the programs read besides their own resources (EKS AMI parameters, the caller's account).
_READS = ["ssm:GetParameter", "ssm:GetParameters", "sts:GetCallerIdentity", "pricing:GetProducts"]
#: AWS managed policies the deploy identity may never attach (nothing in the stacks needs them).
_FORBIDDEN_POLICIES = [
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/IAMFullAccess",
    "arn:aws:iam::aws:policy/PowerUserAccess",
]
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
    return pulumi.Output.from_input(provider_arn).apply(
        lambda arn: web_identity_trust(arn, GITHUB_ISSUER, subject)
    )


@dataclass(frozen=True)
class DeliveryIdentitiesArgs:
    subjects: Mapping[CiRole, str]
    cluster_name: pulumi.Input[str]
    repository_arns: list[pulumi.Input[str]]
    registry_key_arn: pulumi.Input[str]
    #: The account's GitHub OIDC provider when it exists already (one per account).
    existing_provider_arn: str | None
    #: The AWS account; IAM rights are confined to its ``role/<name_prefix>*`` and alike.
    account_id: pulumi.Input[str]
    #: Prefix of every IAM name the stacks create (``stratus-dev-``).
    name_prefix: str
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
                aws.iam.RolePolicy(
                    f"{name}-deploy-manage",
                    role=role.id,
                    policy=deploy_policy(args.account_id, args.name_prefix, f"{name}-"),
                    opts=child,
                )
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


def deploy_policy(
    account_id: pulumi.Input[str], name_prefix: str, ci_prefix: str
) -> pulumi.Output[str]:
    """What ``pulumi up`` of the stacks needs, and no more than the services they use.

    IAM is the way out of any scoped policy, so it is confined three ways: writes only to IAM
    names starting ``name_prefix`` (the platform's own roles, policies and instance profiles),
    never to the CI identities (``ci_prefix``: a deploy token cannot widen its own rights) and
    never attaching AWS's administrator policies.
    """

    def arns(kind: str, prefix: str) -> pulumi.Output[str]:
        return pulumi.Output.concat("arn:aws:iam::", account_id, f":{kind}/{prefix}*")

    own = [arns(kind, name_prefix) for kind in ("role", "policy", "instance-profile")]
    ci_roles = [arns("role", ci_prefix)]
    services = sorted({prefix for prefixes in SERVICES.values() for prefix in prefixes})
    return document(
        Statement(
            sid="ManagePlatformServices", actions=[f"{p}:*" for p in services], resources=["*"]
        ),
        Statement(sid="ReadInputs", actions=_READS, resources=["*"]),
        Statement(sid="ReadIam", actions=["iam:Get*", "iam:List*"], resources=["*"]),
        Statement(sid="ManagePlatformIam", actions=["iam:*"], resources=own),
        Statement(
            sid="GithubOidcProvider",
            actions=["iam:*OpenIDConnectProvider*"],
            resources=[
                pulumi.Output.concat(
                    "arn:aws:iam::",
                    account_id,
                    f":oidc-provider/{GITHUB_ISSUER.removeprefix('https://')}",
                )
            ],
        ),
        Statement(
            sid="ClusterOidcProviders",
            actions=["iam:*OpenIDConnectProvider*"],
            resources=[
                pulumi.Output.concat("arn:aws:iam::", account_id, ":oidc-provider/oidc.eks.*")
            ],
        ),
        Statement(
            sid="ServiceLinkedRoles",
            actions=["iam:CreateServiceLinkedRole"],
            resources=[
                pulumi.Output.concat("arn:aws:iam::", account_id, ":role/aws-service-role/*")
            ],
        ),
        Statement(
            sid="NeverTheCiIdentities",
            effect="Deny",
            actions=[
                "iam:Attach*",
                "iam:Detach*",
                "iam:Put*",
                "iam:Delete*",
                "iam:Update*",
                "iam:Tag*",
                "iam:Untag*",
            ],
            resources=ci_roles,
        ),
        Statement(
            sid="NeverAdministratorPolicies",
            effect="Deny",
            actions=["iam:AttachRolePolicy", "iam:AttachUserPolicy", "iam:AttachGroupPolicy"],
            resources=["*"],
            condition={"ArnEquals": {"iam:PolicyARN": _FORBIDDEN_POLICIES}},
        ),
    )
