"""IAM roles for Kubernetes service accounts (IRSA) through the cluster's OIDC provider."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

#: The ServiceAccount annotation the EKS pod identity webhook reads.
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"


@dataclass(frozen=True)
class OidcIssuer:
    """The cluster's OIDC identity: the IAM provider ARN and the issuer URL (``https://...``)."""

    provider_arn: pulumi.Output[str]
    issuer_url: pulumi.Output[str]


def web_identity_trust(provider_arn: str, issuer_url: str, subject: str) -> str:
    """A trust policy only tokens of ``issuer_url`` for ``subject`` (audience STS) satisfy."""
    host = issuer_url.removeprefix("https://")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": ["sts:AssumeRoleWithWebIdentity"],
                    "Condition": {
                        "StringEquals": {
                            f"{host}:sub": subject,
                            f"{host}:aud": "sts.amazonaws.com",
                        }
                    },
                }
            ],
        }
    )


def service_account_trust(
    issuer: OidcIssuer, namespace: str, service_account: str
) -> pulumi.Output[str]:
    """A trust policy only ``system:serviceaccount:<namespace>:<service_account>`` satisfies."""
    subject = f"system:serviceaccount:{namespace}:{service_account}"
    return pulumi.Output.all(issuer.provider_arn, issuer.issuer_url).apply(
        lambda values: web_identity_trust(values[0], values[1], subject)
    )


def service_account_role(
    name: str,
    *,
    issuer: OidcIssuer,
    namespace: str,
    service_account: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """The role, without permissions; callers attach exactly what the workload needs."""
    return aws.iam.Role(
        name,
        assume_role_policy=service_account_trust(issuer, namespace, service_account),
        description=f"IRSA role for {namespace}/{service_account}",
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
